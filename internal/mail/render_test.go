package mail

import (
	"bytes"
	"embed"
	htmltemplate "html/template"
	"strings"
	"testing"
	texttemplate "text/template"
)

// The templates the messages were first written as. render writes the same bytes by hand;
// these stay as its reference, so html/template's escaping remains the measure of the HTML.
//
//go:embed testdata/message.*.tmpl
var referenceFS embed.FS

var (
	referenceHTML = htmltemplate.Must(htmltemplate.New("message.html.tmpl").ParseFS(referenceFS, "testdata/message.html.tmpl"))
	referenceText = texttemplate.Must(texttemplate.New("message.txt.tmpl").Funcs(texttemplate.FuncMap{
		"indent": func(s string) string { return "  " + strings.ReplaceAll(s, "\n", "\n  ") },
	}).ParseFS(referenceFS, "testdata/message.txt.tmpl"))
)

// sameAsTemplates fails t when render's parts for c differ from the reference templates'.
func sameAsTemplates(t *testing.T, c content) {
	t.Helper()
	text, html := render(c)
	// render cleans the subject and the notes' line ends before drawing: so do the references.
	c.Subject = cleanHeader(c.Subject)
	for i := range c.Notes {
		c.Notes[i].Value = strings.ReplaceAll(strings.ReplaceAll(c.Notes[i].Value, "\r\n", "\n"), "\r", "\n")
	}
	var tb, hb bytes.Buffer
	if err := referenceText.Execute(&tb, c); err != nil {
		t.Fatal(err)
	}
	if err := referenceHTML.Execute(&hb, c); err != nil {
		t.Fatal(err)
	}
	if text != tb.String() {
		t.Errorf("text part differs from the template's:\n got %q\nwant %q", text, tb.String())
	}
	if html != hb.String() {
		t.Errorf("HTML part differs from the template's:\n got %q\nwant %q", html, hb.String())
	}
}

func TestRenderMatchesTemplates(t *testing.T) {
	for name, c := range map[string]content{
		"every part": {Subject: "Approval needed: <role>", Headline: `H & "q" 'a' +1`, Greeting: "Hello Ann,",
			Intro: []string{"one <b>", "two"}, Notes: []Field{{"Justification", "line1\r\nline2 <script>"}},
			Fields: []Field{{"Requester", "Ann"}, {"A label longer than the column", "v\nw"}, {"Zeit", "ü€"}},
			Link:   "http://127.0.0.1:8080/requests/x?a=1&b=2 ü\"'()%2F%zz%4", LinkLabel: "Open the request", Footer: "Foot \x00 nul"},
		"headline only":      {Subject: "Plain", Headline: "Only", Footer: "f"},
		"script link":        {Headline: "h", Link: "javascript:alert(1)", LinkLabel: "x"},
		"data link":          {Headline: "h", Link: " DATA:text/html,<b>", LinkLabel: "x"},
		"mailto link":        {Headline: "h", Link: "MailTo:a@example.com", LinkLabel: "x"},
		"relative link":      {Headline: "h", Link: "/requests/1:2", LinkLabel: "x"},
		"empty values shown": {Headline: "", Intro: []string{""}, Notes: []Field{{"", ""}}, Fields: []Field{{"", ""}}},
	} {
		t.Run(name, func(t *testing.T) { sameAsTemplates(t, c) })
	}
}

// FuzzRender holds render to the templates for any text in any part.
func FuzzRender(f *testing.F) {
	f.Add("Approval needed", "Ann asks", "Hello,", "intro", "Reason", "a\r\nb", "Label", "value", "https://e.example/r/1?a=b&c=d", "Open", "footer")
	f.Add("\x00\r\n", "<script>", "'\"", "+&", "", "\r", "ü", "€", "javascript:x", "", "\u2028")
	f.Add("", "", "", "", "", "", "", "", "%41%4", "", "")
	f.Fuzz(func(t *testing.T, subject, headline, greeting, intro, noteLabel, note, label, value, link, linkLabel, footer string) {
		sameAsTemplates(t, content{Subject: subject, Headline: headline, Greeting: greeting, Intro: []string{intro, intro},
			Notes: []Field{{noteLabel, note}}, Fields: []Field{{label, value}, {value, label}}, Link: link, LinkLabel: linkLabel, Footer: footer})
	})
}
