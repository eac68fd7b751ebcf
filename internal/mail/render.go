package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/elevate-pam/elevate/internal/pam"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var (
	htmlTmpl = htmltemplate.Must(htmltemplate.New("message.html.tmpl").ParseFS(templateFS, "templates/message.html.tmpl"))
	textTmpl = texttemplate.Must(texttemplate.New("message.txt.tmpl").Funcs(texttemplate.FuncMap{
		"indent": func(s string) string { return "  " + strings.ReplaceAll(s, "\n", "\n  ") },
	}).ParseFS(templateFS, "templates/message.txt.tmpl"))
)

// Field is one labelled line of a message's details.
type Field struct {
	Label string
	Value string
}

// content is what one message says, in plain values; the templates escape it for HTML.
type content struct {
	Subject   string
	Headline  string
	Greeting  string
	Intro     []string
	Notes     []Field // multi-line text people typed: justification, comments, reasons
	Fields    []Field
	Link      string
	LinkLabel string
	Footer    string
}

// render produces the plain-text and HTML parts of a message.
func render(c content) (text, html string, err error) {
	c.Subject = cleanHeader(c.Subject)
	for i := range c.Notes { // text typed in a browser arrives with CRLF line ends
		c.Notes[i].Value = strings.ReplaceAll(strings.ReplaceAll(c.Notes[i].Value, "\r\n", "\n"), "\r", "\n")
	}
	var tb, hb bytes.Buffer
	if err := textTmpl.Execute(&tb, c); err != nil {
		return "", "", fmt.Errorf("render text: %w", err)
	}
	if err := htmlTmpl.Execute(&hb, c); err != nil {
		return "", "", fmt.Errorf("render html: %w", err)
	}
	return tb.String(), hb.String(), nil
}

// cleanHeader makes a one-line header value: control characters (CR and LF among them) become
// spaces, runs of spaces collapse, and it is cut to 200 characters.
func cleanHeader(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > 200 {
		s = string([]rune(s)[:199]) + "…"
	}
	return s
}

// formatTime shows an instant in the recipient's zone and in UTC.
func formatTime(t time.Time, loc *time.Location) string {
	utc := t.UTC().Format("Mon 2 Jan 2006 15:04 UTC")
	if loc == time.UTC {
		return utc
	}
	return t.In(loc).Format("Mon 2 Jan 2006 15:04 MST") + " (" + loc.String() + "; " + utc + ")"
}

// scopeLabel names what a request covers, e.g. "role Mailbox admin".
func scopeLabel(r pam.Request) string {
	kind := map[pam.ScopeType]string{pam.ScopeTask: "task", pam.ScopeRole: "role", pam.ScopeRoleGroup: "role group"}[r.ScopeType]
	if kind == "" {
		return r.ScopeName
	}
	return kind + " " + r.ScopeName
}
