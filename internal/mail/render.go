package mail

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/elevate-pam/elevate/internal/pam"
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

// render produces the plain-text and HTML parts of a message. Both are written by hand rather
// than by text/template and html/template: a flow's mail spent a seventh of the server's CPU in
// their reflection. The HTML escapes exactly as html/template would (TestRenderMatchesTemplates
// holds it to the templates in testdata).
func render(c content) (text, html string) {
	c.Subject = cleanHeader(c.Subject)
	for i := range c.Notes { // text typed in a browser arrives with CRLF line ends
		c.Notes[i].Value = strings.ReplaceAll(strings.ReplaceAll(c.Notes[i].Value, "\r\n", "\n"), "\r", "\n")
	}
	return renderText(c), renderHTML(c)
}

// renderText is the plain-text part: paragraphs, notes indented under their label, the fields
// in a column, the link on a line of its own.
func renderText(c content) string {
	var b strings.Builder
	b.Grow(1024)
	if c.Greeting != "" {
		b.WriteString(c.Greeting + "\n\n")
	}
	for _, p := range c.Intro {
		b.WriteString(p + "\n\n")
	}
	for _, n := range c.Notes {
		b.WriteString(n.Label + ":\n  " + strings.ReplaceAll(n.Value, "\n", "\n  ") + "\n\n")
	}
	if len(c.Fields) > 0 {
		for _, f := range c.Fields {
			fmt.Fprintf(&b, "%-14s %s\n", f.Label+":", f.Value)
		}
		b.WriteString("\n")
	}
	if c.Link != "" {
		b.WriteString(c.LinkLabel + ":\n" + c.Link + "\n\n")
	}
	b.WriteString(c.Footer + "\n")
	return b.String()
}

// The HTML part's fixed pieces: a table layout with inline styles, which mail clients keep.
const (
	htmlHead = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>`
	htmlTop = `</title>
</head>
<body style="margin:0;padding:0;background:#f1f5f9;font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#0f172a;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f1f5f9;padding:16px 8px;">
<tr><td align="center">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:600px;background:#ffffff;border:1px solid #e2e8f0;border-radius:8px;">
<tr><td style="padding:24px;">
<p style="margin:0 0 16px;font-size:13px;color:#64748b;">Elevate</p>
<h1 style="margin:0 0 16px;font-size:20px;line-height:1.3;">`
	htmlPara      = "\n" + `<p style="margin:0 0 12px;font-size:15px;line-height:1.5;">`
	htmlNoteOpen  = "\n" + `<div style="margin:0 0 12px;padding:12px;background:#f8fafc;border-left:3px solid #6366f1;">` + "\n" + `<p style="margin:0 0 4px;font-size:13px;font-weight:600;color:#334155;">`
	htmlNoteValue = `</p>` + "\n" + `<p style="margin:0;font-size:15px;line-height:1.5;white-space:pre-wrap;">`
	htmlNoteClose = "</p>\n</div>"
	htmlFields    = "\n" + `<table role="presentation" cellpadding="0" cellspacing="0" style="width:100%;margin:8px 0 16px;font-size:14px;line-height:1.5;border-collapse:collapse;">`
	htmlFieldOpen = "\n" + `<tr><th scope="row" align="left" valign="top" style="padding:6px 12px 6px 0;color:#64748b;font-weight:500;white-space:nowrap;">`
	htmlFieldMid  = `</th><td style="padding:6px 0;white-space:pre-wrap;word-break:break-word;">`
	htmlLinkOpen  = "\n" + `<p style="margin:16px 0;"><a href="`
	htmlLinkStyle = `" style="display:inline-block;background:#4f46e5;color:#ffffff;text-decoration:none;padding:10px 16px;border-radius:6px;font-weight:600;font-size:15px;">`
	htmlLinkShown = `</a></p>` + "\n" + `<p style="margin:0 0 16px;font-size:12px;color:#64748b;word-break:break-all;">`
	htmlFooter    = "\n" + `<p style="margin:16px 0 0;font-size:12px;color:#64748b;">`
	htmlBottom    = `</p>
</td></tr>
</table>
</td></tr>
</table>
</body>
</html>
`
)

// renderHTML is the HTML part, every value escaped for where it stands.
func renderHTML(c content) string {
	var b strings.Builder
	b.Grow(6 * 1024)
	b.WriteString(htmlHead)
	escapeHTML(&b, c.Subject)
	b.WriteString(htmlTop)
	escapeHTML(&b, c.Headline)
	b.WriteString("</h1>")
	if c.Greeting != "" {
		b.WriteString(htmlPara)
		escapeHTML(&b, c.Greeting)
		b.WriteString("</p>")
	}
	for _, p := range c.Intro {
		b.WriteString(htmlPara)
		escapeHTML(&b, p)
		b.WriteString("</p>")
	}
	for _, n := range c.Notes {
		b.WriteString(htmlNoteOpen)
		escapeHTML(&b, n.Label)
		b.WriteString(htmlNoteValue)
		escapeHTML(&b, n.Value)
		b.WriteString(htmlNoteClose)
	}
	if len(c.Fields) > 0 {
		b.WriteString(htmlFields)
		for _, f := range c.Fields {
			b.WriteString(htmlFieldOpen)
			escapeHTML(&b, f.Label)
			b.WriteString(htmlFieldMid)
			escapeHTML(&b, f.Value)
			b.WriteString("</td></tr>")
		}
		b.WriteString("\n</table>")
	}
	if c.Link != "" {
		b.WriteString(htmlLinkOpen)
		escapeHTML(&b, normalizeURL(safeURL(c.Link)))
		b.WriteString(htmlLinkStyle)
		escapeHTML(&b, c.LinkLabel)
		b.WriteString(htmlLinkShown)
		escapeHTML(&b, c.Link)
		b.WriteString("</p>")
	}
	b.WriteString(htmlFooter)
	escapeHTML(&b, c.Footer)
	b.WriteString(htmlBottom)
	return b.String()
}

// escapeHTML writes s as text or a quoted attribute value, with the characters html/template
// escapes replaced as it replaces them (NUL becomes U+FFFD).
func escapeHTML(b *strings.Builder, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var r string
		switch s[i] {
		case 0:
			r = "\uFFFD"
		case '"':
			r = "&#34;"
		case '&':
			r = "&amp;"
		case '\'':
			r = "&#39;"
		case '+':
			r = "&#43;"
		case '<':
			r = "&lt;"
		case '>':
			r = "&gt;"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(r)
		last = i + 1
	}
	b.WriteString(s[last:])
}

// safeURL keeps a link whose scheme is http, https or mailto (or that has none), and replaces
// any other (javascript:, data:) with the inert fragment html/template uses.
func safeURL(s string) string {
	if scheme, _, ok := strings.Cut(s, ":"); ok && !strings.Contains(scheme, "/") {
		if !strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https") && !strings.EqualFold(scheme, "mailto") {
			return "#ZgotmplZ"
		}
	}
	return s
}

// normalizeURL percent-encodes the bytes of s that a URL may not hold as they are (spaces,
// quotes, parentheses, non-ASCII), keeping reserved characters and valid escapes.
func normalizeURL(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case strings.IndexByte("!#$&*+,/:;=?@[]-._~", c) >= 0,
			'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			continue
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			continue
		}
		if b.Len() == 0 {
			b.Grow(len(s) + 16)
		}
		b.WriteString(s[last:i])
		fmt.Fprintf(&b, "%%%02x", c)
		last = i + 1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
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
