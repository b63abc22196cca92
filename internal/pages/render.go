package pages

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"strconv"
)

//go:embed templates/*.html
var templateFiles embed.FS

// Each page is the layout with its own "content" block, parsed apart so
// that the blocks do not overwrite each other.
var (
	authTemplate    = parsePage("auth.html")
	payTemplate     = parsePage("pay.html")
	messageTemplate = parsePage("message.html")
)

func parsePage(name string) *template.Template {
	return template.Must(template.ParseFS(templateFiles, "templates/layout.html", "templates/"+name))
}

// messagePage is the data of a page that only explains what went wrong and
// what to do next.
type messagePage struct {
	Title   string
	Sandbox bool
	Heading string
	Detail  string
	// RequestID is shown on system errors, so support can find the log
	// line.
	RequestID string
}

// render writes the page with status. The page is rendered into a buffer
// first, so a template error still yields a clean 500.
func (p *Pages) render(w http.ResponseWriter, status int, t *template.Template, data any) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		p.cfg.Logger.Error("page template failed", "template", t.Name(), "error", err)
		http.Error(w, "系统繁忙，请稍后再试", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (p *Pages) renderMessage(w http.ResponseWriter, status int, heading, detail, requestID string) {
	p.render(w, status, messageTemplate, messagePage{
		Title:     heading,
		Sandbox:   p.cfg.Sandbox,
		Heading:   heading,
		Detail:    detail,
		RequestID: requestID,
	})
}
