package quickstart

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// browser is a person at a browser without JavaScript: a cookie jar, the page on screen, and
// what they clicked by its visible words (which the README's bold labels must name).
type browser struct {
	t       *testing.T
	base    *url.URL
	http    *http.Client
	at      *url.URL
	doc     *goquery.Document
	clicked map[string]bool
}

func newBrowser(t *testing.T, base string, clicked map[string]bool) *browser {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: u, http: &http.Client{Jar: jar, Timeout: 30 * time.Second}, clicked: clicked}
}

// words is an element's text as a person reads it: spaces collapsed.
func words(s *goquery.Selection) string { return strings.Join(strings.Fields(s.Text()), " ") }

// open loads the page at path, as typed into the address bar.
func (b *browser) open(path string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.base.ResolveReference(&url.URL{Path: path}).String(), nil)
	if err != nil {
		b.t.Fatal(err)
	}
	b.load(req)
}

// load sends req, follows redirects as a browser does and shows the page it ends on, which
// must answer 200.
func (b *browser) load(req *http.Request) {
	b.t.Helper()
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("%s %s ended on %s with %d: %.500s", req.Method, req.URL, resp.Request.URL, resp.StatusCode, words(doc.Find("main")))
	}
	b.at, b.doc = resp.Request.URL, doc
}

// click follows the first link in within (the whole page when nil) whose words are label or
// start with it ("Approvals 2" for the navigation's Approvals with its count).
func (b *browser) click(within *goquery.Selection, label string) {
	b.t.Helper()
	if within == nil {
		within = b.doc.Selection
	}
	link := within.Find("a[href]").FilterFunction(func(_ int, s *goquery.Selection) bool {
		w := words(s)
		return w == label || strings.HasPrefix(w, label+" ")
	}).First()
	if link.Length() == 0 {
		b.t.Fatalf("no link %q on %s: %.800s", label, b.at, words(within))
	}
	href, _ := link.Attr("href")
	to, err := b.at.Parse(href)
	if err != nil {
		b.t.Fatal(err)
	}
	b.clicked[label] = true
	req, _ := http.NewRequest(http.MethodGet, to.String(), nil)
	b.load(req)
}

// clickInRow follows the link label in the one table row that has it and whose words hold all
// of these ("Review" on Rhea's Journaling row).
func (b *browser) clickInRow(label string, all ...string) {
	b.t.Helper()
	rows := b.doc.Find("tr").FilterFunction(func(_ int, s *goquery.Selection) bool {
		if s.Find("a[href]").FilterFunction(func(_ int, a *goquery.Selection) bool { return words(a) == label }).Length() == 0 {
			return false
		}
		for _, w := range all {
			if !strings.Contains(words(s), w) {
				return false
			}
		}
		return true
	})
	if rows.Length() != 1 {
		b.t.Fatalf("%d rows with %q and %q on %s", rows.Length(), label, all, b.at)
	}
	b.click(rows, label)
}

// unfold opens a folded part of the page (a <summary> reading label), which must be there.
func (b *browser) unfold(label string) {
	b.t.Helper()
	if b.doc.Find("summary").FilterFunction(func(_ int, s *goquery.Selection) bool { return words(s) == label }).Length() == 0 {
		b.t.Fatalf("nothing to unfold reading %q on %s", label, b.at)
	}
	b.clicked[label] = true
}

// press fills the form of the first button reading label with typed (each must be a field of
// that form) and submits it with the button, as a browser without JavaScript does.
func (b *browser) press(label string, typed map[string]string) {
	b.t.Helper()
	button := b.doc.Find("form button").FilterFunction(func(_ int, s *goquery.Selection) bool { return words(s) == label }).First()
	if button.Length() == 0 {
		b.t.Fatalf("no button %q on %s: %.800s", label, b.at, words(b.doc.Find("main")))
	}
	form := button.Closest("form")
	values := url.Values{}
	form.Find("input, textarea, select").Each(func(_ int, f *goquery.Selection) {
		name, _ := f.Attr("name")
		if _, off := f.Attr("disabled"); name == "" || off {
			return
		}
		switch goquery.NodeName(f) {
		case "textarea":
			values.Add(name, f.Text())
		case "select":
			opt := f.Find("option[selected]").First()
			if opt.Length() == 0 {
				opt = f.Find("option").First()
			}
			v, _ := opt.Attr("value")
			values.Add(name, v)
		default:
			typ, _ := f.Attr("type")
			_, checked := f.Attr("checked")
			switch typ {
			case "submit", "button", "image", "reset", "file":
				return
			case "checkbox", "radio":
				if !checked {
					return
				}
			}
			v, _ := f.Attr("value")
			values.Add(name, v)
		}
	})
	for k, v := range typed {
		if !values.Has(k) {
			b.t.Fatalf("the form of %q on %s has no field %q", label, b.at, k)
		}
		values.Set(k, v)
	}
	if name, ok := button.Attr("name"); ok && name != "" {
		v, _ := button.Attr("value")
		values.Set(name, v)
	}
	action, _ := form.Attr("action")
	to, err := b.at.Parse(action)
	if err != nil {
		b.t.Fatal(err)
	}
	method := strings.ToUpper(form.AttrOr("method", "GET"))
	var req *http.Request
	if method == http.MethodPost {
		req, _ = http.NewRequest(method, to.String(), strings.NewReader(values.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		to.RawQuery = values.Encode()
		req, _ = http.NewRequest(method, to.String(), nil)
	}
	b.clicked[label] = true
	b.load(req)
}
