package registry

import (
	"fmt"
	"strings"

	"chsgate/internal/store"
	"chsgate/internal/textcut"
)

// LineError is one problem of a person import file.
type LineError struct {
	Line   int    // 1-based line number
	Field  string // the field at fault, or "" when the line as a whole is
	Value  string // the rejected value, or "" when there is none to show
	Reason string // what is wrong, in plain English
}

func (e *LineError) Error() string {
	switch {
	case e.Field == "":
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	case e.Value == "":
		return fmt.Sprintf("line %d: %s: %s", e.Line, e.Field, e.Reason)
	}
	return fmt.Sprintf("line %d: %s %s: %s", e.Line, e.Field, textcut.Quote(maskField(e.Field, e.Value), 40), e.Reason)
}

// maskField masks the personal values an error repeats, because import
// errors end up in terminals and system logs; the line number finds them.
func maskField(field, value string) string {
	switch field {
	case "idcard":
		return MaskIDCard(value)
	case "name":
		return MaskName(value)
	case "phone":
		return MaskPhone(value)
	}
	return value
}

// ParseError lists the problems of a person import file, in line order.
// It matches store.ErrInvalidImport under errors.Is.
type ParseError struct {
	Errors []*LineError
	// Truncated is true when reading stopped at MaxErrors, so the file may
	// have more problems.
	Truncated bool
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(store.ErrInvalidImport.Error())
	if len(e.Errors) == 1 {
		b.WriteString(": 1 error")
	} else {
		fmt.Fprintf(&b, ": %d errors", len(e.Errors))
	}
	if e.Truncated {
		fmt.Fprintf(&b, " (stopped after %d; the file may have more)", MaxErrors)
	}
	for _, le := range e.Errors {
		b.WriteString("\n")
		b.WriteString(le.Error())
	}
	return b.String()
}

// Is makes errors.Is(err, store.ErrInvalidImport) true, so callers treat a
// file rejected here like one the store rejected.
func (e *ParseError) Is(target error) bool {
	return target == store.ErrInvalidImport
}

// Unwrap returns the line errors.
func (e *ParseError) Unwrap() []error {
	errs := make([]error, len(e.Errors))
	for i, le := range e.Errors {
		errs[i] = le
	}
	return errs
}
