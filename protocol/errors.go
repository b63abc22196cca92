package protocol

import (
	"errors"
	"fmt"
	"strings"
)

// Error is a fault reported on the wire: a result code of the platform's
// code table and its Chinese message. Err keeps the underlying cause for
// logs and is never sent to the peer.
type Error struct {
	Code    int
	Message string
	Err     error
}

// NewError returns the error for code with its standard message, each
// 【】 placeholder filled in order by args. Unknown codes get the message of
// CodeInternal, so nothing unexplained reaches a peer.
func NewError(code int, args ...string) *Error {
	return &Error{Code: code, Message: FormatMessage(code, args...)}
}

// Wrap returns the error for code with cause attached for logging.
func Wrap(code int, cause error, args ...string) *Error {
	return &Error{Code: code, Message: FormatMessage(code, args...), Err: cause}
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%d %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, protocol.NewError(protocol.CodeBadSignature)) works.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code
}

// CodeOf returns the wire code carried by err, or CodeInternal when err
// carries none.
func CodeOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// FormatMessage returns the standard message of code with each 【】 filled
// in order by args; placeholders without an argument stay empty.
func FormatMessage(code int, args ...string) string {
	msg, ok := messages[code]
	if !ok {
		msg = messages[CodeInternal]
	}
	if len(args) == 0 || !strings.Contains(msg, "【】") {
		return msg
	}
	var b strings.Builder
	rest := msg
	for _, arg := range args {
		i := strings.Index(rest, "【】")
		if i < 0 {
			break
		}
		b.WriteString(rest[:i])
		b.WriteString("【")
		b.WriteString(arg)
		b.WriteString("】")
		rest = rest[i+len("【】"):]
	}
	b.WriteString(rest)
	return b.String()
}
