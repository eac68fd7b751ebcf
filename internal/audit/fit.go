package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Longest stored value of each event field, in bytes. The product refuses longer input where a
// person types it (task keys ≤ 191 bytes, emails ≤ 254); these bounds are for what arrives from
// clients unchecked (user agents, hostile check calls), which is fitted rather than refused.
const (
	MaxActorID    = 64
	MaxActorName  = 254
	MaxAction     = 64
	MaxTargetType = 32
	MaxTargetID   = 200
	MaxRequestID  = 64
	MaxIP         = 64
	MaxUserAgent  = 300
)

// ellipsis marks a value cut to fit.
const ellipsis = "…"

// Fit returns s as it may be stored: NUL, other control characters and invalid UTF-8 become
// U+FFFD, and a value longer than max bytes is cut at a character boundary and ends with "…".
// changed reports whether anything was replaced or cut. Fitting a fitted value changes nothing,
// so an event normalised twice (a retried batch) keeps what it says about the original.
func Fit(s string, max int) (fitted string, changed bool) {
	clean := true
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || unicode.IsControl(r) {
			clean = false
			break
		}
		i += size
	}
	if clean && len(s) <= max {
		return s, false
	}
	var b strings.Builder
	for _, r := range s { // ranging over a string yields U+FFFD for each invalid byte
		if unicode.IsControl(r) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
	}
	out := b.String()
	if len(out) <= max {
		return out, true
	}
	cut := max - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(out[cut]) {
		cut--
	}
	return out[:cut] + ellipsis, true
}

// FitDetail is Fit for a value that goes into an event's details: the fitted value, and, when
// it changed, the original's length and SHA-256 to record beside it.
func FitDetail(s string, max int) (string, map[string]any) {
	v, changed := Fit(s, max)
	if !changed {
		return v, nil
	}
	return v, Original(s)
}

// Original describes a value that was fitted: its length in bytes and its SHA-256.
func Original(s string) map[string]any {
	sum := sha256.Sum256([]byte(s))
	return map[string]any{"length": len(s), "sha256": hex.EncodeToString(sum[:])}
}

// fitFields fits every short field to its column. For each field it changed, the original's
// length in bytes and its SHA-256 are added to Details under "fitted", so the event still
// says exactly what arrived without storing it.
func (e *Event) fitFields() {
	var fitted map[string]any
	for _, f := range []struct {
		name string
		v    *string
		max  int
	}{
		{"actor_type", &e.ActorType, MaxTargetType}, {"actor_id", &e.ActorID, MaxActorID}, {"actor_name", &e.ActorName, MaxActorName},
		{"action", &e.Action, MaxAction}, {"target_type", &e.TargetType, MaxTargetType}, {"target_id", &e.TargetID, MaxTargetID},
		{"request_id", &e.RequestID, MaxRequestID}, {"subject_id", &e.SubjectID, MaxActorID}, {"outcome", &e.Outcome, MaxTargetType}, {"ip", &e.IP, MaxIP},
		{"user_agent", &e.UserAgent, MaxUserAgent},
	} {
		v, changed := Fit(*f.v, f.max)
		if !changed {
			continue
		}
		if fitted == nil {
			fitted = map[string]any{}
		}
		fitted[f.name] = Original(*f.v)
		*f.v = v
	}
	e.Details = strings.ToValidUTF8(e.Details, "\uFFFD")
	if fitted != nil {
		e.Details = withDetail(e.Details, "fitted", fitted)
	}
}

// withDetail adds key to a details object, keeping the other members exactly as they were.
func withDetail(details, key string, v any) string {
	m := map[string]json.RawMessage{}
	dec := json.NewDecoder(strings.NewReader(details))
	if details == "" || dec.Decode(&m) != nil {
		m = map[string]json.RawMessage{"details": mustJSON(details)}
	}
	m[key] = mustJSON(v)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(m)
	return strings.TrimSuffix(buf.String(), "\n")
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`null`)
	}
	return b
}
