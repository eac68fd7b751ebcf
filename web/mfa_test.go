package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"image/png"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/elevate-pam/elevate/internal/testenv"
	"github.com/pquerna/otp/totp"
)

// enrol sets up two-step verification through the profile pages and returns the secret and
// the recovery codes.
func (c *client) enrol() (string, []string) {
	c.t.Helper()
	c.get("/profile")
	if p := c.post("/profile/mfa/start", nil); p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/profile/mfa" {
		c.t.Fatalf("start enrolment: %d %q", p.StatusCode, p.Header.Get("Location"))
	}
	setup := c.get("/profile/mfa")
	secret := strings.ReplaceAll(setup.find("mfa-secret").Text(), " ", "")
	if secret == "" {
		c.t.Fatalf("no secret on the set-up page: %d", setup.StatusCode)
	}
	p := c.post("/profile/mfa/confirm", url.Values{"code": {code(c.t, secret, c.app.clock.Now())}})
	if p.StatusCode != http.StatusOK {
		c.t.Fatalf("confirm enrolment: %d %s", p.StatusCode, p.find("error-code").Text())
	}
	var codes []string
	p.find("recovery-codes").Find("li").Each(func(_ int, s *goquery.Selection) { codes = append(codes, s.Text()) })
	return secret, codes
}

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTOTPEnrolment(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		ana := a.mustUser("ana@example.com", "Ana Approver", goodPassword, false)
		c := a.client()
		c.signIn("ana@example.com", goodPassword)
		if s := c.get("/profile").find("mfa-status").Text(); !strings.Contains(s, "Off") {
			t.Fatalf("status before enrolment: %q", s)
		}
		c.post("/profile/mfa/start", nil)
		setup := c.get("/profile/mfa")
		secret := strings.ReplaceAll(setup.find("mfa-secret").Text(), " ", "")
		src, _ := setup.find("mfa-qr").Attr("src")
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(src, "data:image/png;base64,"))
		if err != nil || !strings.HasPrefix(src, "data:image/png;base64,") {
			t.Fatalf("QR code is not a PNG data URI: %.40q", src)
		}
		if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
			t.Fatalf("QR code does not decode: %v", err)
		}
		// The secret is encrypted at rest.
		rec, err := a.db.MFAByUser(context.Background(), ana.ID)
		if err != nil || rec.Confirmed() || strings.Contains(rec.SecretEnc, secret) || len(secret) < 16 {
			t.Fatalf("stored enrolment %+v %v", rec, err)
		}

		// A wrong code keeps set-up pending; a code from the previous window confirms it.
		p := c.post("/profile/mfa/confirm", url.Values{"code": {"000000"}})
		if p.StatusCode != http.StatusUnprocessableEntity || p.find("error-code").Text() == "" {
			t.Fatalf("wrong first code: %d", p.StatusCode)
		}
		p = c.post("/profile/mfa/confirm", url.Values{"code": {code(t, secret, a.clock.Now().Add(-30*time.Second))}})
		if p.StatusCode != http.StatusOK {
			t.Fatalf("confirm: %d %s", p.StatusCode, p.find("error-code").Text())
		}
		codes := p.find("recovery-codes").Find("li")
		if codes.Length() != auth.RecoveryCodeCount {
			t.Fatalf("%d recovery codes shown", codes.Length())
		}
		if s := c.get("/profile"); !strings.Contains(s.find("mfa-status").Text(), "On") ||
			!strings.Contains(s.find("recovery-left").Text(), "10 of 10") {
			t.Fatalf("status after enrolment: %q %q", s.find("mfa-status").Text(), s.find("recovery-left").Text())
		}
		// The codes are shown once: the profile page and a repeated confirm show none.
		if p := c.post("/profile/mfa/confirm", url.Values{"code": {code(t, secret, a.clock.Now())}}); p.find("recovery-codes").Length() != 0 {
			t.Fatal("recovery codes shown twice")
		}
		if n := len(a.events("mfa.enrolled")); n != 1 {
			t.Fatalf("%d enrolment events", n)
		}
		if n := len(a.events("mfa.enrol_failed")); n != 1 {
			t.Fatalf("%d failed enrolment events", n)
		}
		if strings.Contains(a.logs.String(), secret) || strings.Contains(a.logs.String(), codes.First().Text()) {
			t.Fatal("a secret or recovery code reached the log")
		}
	})
}

func TestStepUpCodesAndWindow(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("ana@example.com", "Ana Approver", goodPassword, false)
		c := a.client()
		c.signIn("ana@example.com", goodPassword)

		// Without two-step verification a guarded action never goes ahead.
		p := c.post("/profile/mfa/recovery", nil)
		if p.StatusCode != http.StatusForbidden || p.find("enrol-first").Length() != 1 {
			t.Fatalf("guarded action without enrolment: %d", p.StatusCode)
		}

		secret, recovery := c.enrol()
		enrolledAt := a.clock.Now()

		// A guarded action asks for a code and carries every field along, the token aside.
		p = c.post("/profile/mfa/disable", url.Values{"confirm": {"yes"}, "reason": {"new phone <b>"}, "tag": {"a", "b"}})
		if p.StatusCode != http.StatusOK || p.find("step-up-form").Length() != 1 {
			t.Fatalf("step-up page: %d", p.StatusCode)
		}
		form := p.find("step-up-form")
		if act, _ := form.Attr("action"); act != "/profile/mfa/disable" {
			t.Fatalf("step-up form posts to %q", act)
		}
		got := url.Values{}
		form.Find(`input[type="hidden"]`).Each(func(_ int, s *goquery.Selection) {
			n, _ := s.Attr("name")
			v, _ := s.Attr("value")
			got.Add(n, v)
		})
		if got.Get("reason") != "new phone <b>" || strings.Join(got["tag"], ",") != "a,b" || got.Get("confirm") != "yes" || got.Get("_csrf") == "" {
			t.Fatalf("carried fields: %v", got)
		}

		// The code used to enrol cannot be used again, nor one from two windows ago.
		resend := func(code string) page {
			f := url.Values{"confirm": {"yes"}, "reason": {"new phone <b>"}, "tag": {"a", "b"}, "stepup_code": {code}}
			return c.post("/profile/mfa/disable", f)
		}
		if p := resend(code(t, secret, enrolledAt)); p.StatusCode != http.StatusUnprocessableEntity || p.find("error-stepup_code").Text() == "" {
			t.Fatalf("reused code: %d", p.StatusCode)
		}
		a.clock.Advance(30 * time.Second)
		if p := resend(code(t, secret, a.clock.Now().Add(-60*time.Second))); p.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("code from two windows ago: %d", p.StatusCode)
		}
		if p := resend("12345"); p.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("malformed code: %d", p.StatusCode)
		}
		if s := c.get("/profile").find("mfa-status").Text(); !strings.Contains(s, "On") {
			t.Fatal("a refused step-up changed something")
		}

		// A code from the previous window passes, once; the action then goes ahead.
		a.clock.Advance(30 * time.Second)
		prev := code(t, secret, a.clock.Now().Add(-30*time.Second))
		p = c.post("/profile/mfa/recovery", url.Values{"stepup_code": {prev}})
		if p.StatusCode != http.StatusOK || p.find("recovery-codes").Find("li").Length() != auth.RecoveryCodeCount {
			t.Fatalf("step-up with the previous window's code: %d", p.StatusCode)
		}
		replaced := p.find("recovery-codes").Find("li").First().Text()

		// Within the window no code is asked again; after it, one is.
		a.clock.Advance(9 * time.Minute)
		p = c.post("/profile/mfa/recovery", nil)
		if p.find("recovery-codes").Length() != 1 {
			t.Fatalf("asked again within the window: %d", p.StatusCode)
		}
		fresh := p.find("recovery-codes").Find("li").First().Text()
		a.clock.Advance(2 * time.Minute)
		p = c.post("/profile/mfa/recovery", nil)
		if p.find("step-up-form").Length() != 1 {
			t.Fatalf("no code asked after the window: %d", p.StatusCode)
		}
		// The replaced recovery codes are dead; a new one works once.
		for _, old := range []string{recovery[0], replaced} {
			if p := c.post("/profile/mfa/recovery", url.Values{"stepup_code": {old}}); p.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("replaced recovery code: %d", p.StatusCode)
			}
		}
		p = c.post("/profile/mfa/disable", url.Values{"stepup_code": {fresh}})
		if p.StatusCode != http.StatusUnprocessableEntity || p.find("error-reason").Text() == "" {
			t.Fatalf("disable without a reason: %d", p.StatusCode)
		}
		p = c.post("/profile/mfa/disable", url.Values{"reason": {"new phone"}})
		if p.StatusCode != http.StatusSeeOther {
			t.Fatalf("disable with a recovery code: %d", p.StatusCode)
		}
		if s := c.get("/profile").find("mfa-status").Text(); !strings.Contains(s, "Off") {
			t.Fatalf("status after disable: %q", s)
		}

		if n := len(a.events("mfa.step_up_passed")); n != 2 {
			t.Fatalf("%d step-up events", n)
		}
		if p := c.post("/profile/mfa/recovery", url.Values{"stepup_code": {fresh}}); p.StatusCode != http.StatusForbidden {
			t.Fatalf("recovery code after turning off: %d", p.StatusCode)
		}
		if n := len(a.events("mfa.step_up_failed")); n != 5 {
			t.Fatalf("%d failed step-up events", n)
		}
		if ev := a.events("mfa.disabled"); len(ev) != 1 || !strings.Contains(ev[0].Details, "new phone") {
			t.Fatalf("disable events: %+v", ev)
		}

		// A new session starts without a step-up.
		c2 := a.client()
		c2.signIn("ana@example.com", goodPassword)
		c2.enrol()
		if p := c2.post("/profile/mfa/recovery", nil); p.find("step-up-form").Length() != 1 {
			t.Fatal("a fresh session inherited a step-up")
		}
	})
}

func TestOrganisationRequiresEnrolment(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		ctx := context.Background()
		a.mustUser("ada@example.com", "Ada Admin", goodPassword, true)
		a.mustUser("ana@example.com", "Ana Requester", goodPassword, false)
		if err := a.db.SetValue(ctx, auth.RequireMFAEnrolmentKey, "true", a.clock.Now()); err != nil {
			t.Fatal(err)
		}
		admin := a.client()
		admin.signIn("ada@example.com", goodPassword)
		if p := admin.get("/"); p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/profile#mfa" {
			t.Fatalf("admin without enrolment: %d %q", p.StatusCode, p.Header.Get("Location"))
		}
		if p := admin.get("/profile"); p.StatusCode != http.StatusOK || p.find("mfa-required").Length() != 1 {
			t.Fatalf("profile: %d", p.StatusCode)
		}
		requester := a.client()
		requester.signIn("ana@example.com", goodPassword)
		if !requester.signedIn() {
			t.Fatal("a requester was sent to enrol")
		}
		secret, _ := admin.enrol()
		if !admin.signedIn() {
			t.Fatal("an enrolled admin is still sent to enrol")
		}
		if admin.get("/profile").find("disable-mfa").Length() != 0 {
			t.Fatal("the page offers to turn off required two-step verification")
		}
		a.clock.Advance(30 * time.Second)
		p := admin.post("/profile/mfa/disable", url.Values{"reason": {"tired of it"}, "stepup_code": {code(t, secret, a.clock.Now())}})
		if p.StatusCode != http.StatusForbidden {
			t.Fatalf("turning off required two-step verification: %d", p.StatusCode)
		}
		if n := len(a.events("mfa.disabled")); n != 0 {
			t.Fatal("required two-step verification was turned off")
		}
	})
}
