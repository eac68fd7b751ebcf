package pam

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// fields lists the fields err's problems name, in order.
func fields(err error) []string {
	var pe *Error
	if !errors.As(err, &pe) {
		return nil
	}
	var out []string
	for _, one := range pe.All() {
		out = append(out, one.Field)
	}
	return out
}

func TestProblemsKeepTheFirstOfEachField(t *testing.T) {
	var ps Problems
	if ps.Err() != nil {
		t.Fatal("no problem added, yet an error")
	}
	ps.Add(nil)
	ps.Add(FieldError("duration", "Write a duration."))
	ps.Add(FieldError("justification", "Say why."))
	ps.Add(FieldError("duration", "Choose a longer one."))
	ps.Add(Errorf(EINVALID, "Something with no field."))
	err := ps.Err()
	if got := fields(err); !slices.Equal(got, []string{"duration", "justification", ""}) {
		t.Fatalf("fields %q", got)
	}
	if err.Error() != "Write a duration." || ErrorCode(err) != EINVALID {
		t.Fatalf("first problem %q (%s), want the duration's first", err.Error(), ErrorCode(err))
	}
	// A merged error adds each of its problems, still one a field.
	var more Problems
	more.Add(FieldError("ticket", "Give the ticket."))
	more.Add(err)
	if got := fields(more.Err()); !slices.Equal(got, []string{"ticket", "duration", "justification", ""}) {
		t.Fatalf("merged fields %q", got)
	}
}

// An error that is not the input's fault (the database gone, a policy not found) is returned
// alone, whatever problems came before or after it.
func TestProblemsLetOtherErrorsThrough(t *testing.T) {
	var ps Problems
	ps.Add(FieldError("duration", "Write a duration."))
	gone := Errorf(ENOTFOUND, "Policy not found.")
	ps.Add(gone)
	ps.Add(errors.New("connection refused"))
	if err := ps.Err(); err != gone {
		t.Fatalf("got %v, want the first error that is not a problem with the input", err)
	}
}

// A policy with several mistakes is told of all of them at once, and a value compared with one
// that is itself wrong is not blamed for it.
func TestPolicyValidateTellsEveryProblem(t *testing.T) {
	p := NewPolicy(ScopeTask, "t")
	p.ApproverGroupID = "approvers"
	p.ApprovalsRequired = 9
	p.MaxDuration = 40 * 24 * time.Hour // above the ceiling
	p.DefaultDuration = 2 * time.Hour   // fine against any right maximum
	p.PendingTimeout = time.Minute
	p.RemindAfter = 30 * time.Minute // fine against any right time to decide
	p.EmergencyDuration = time.Minute
	err := p.Validate(DefaultOrgMax)
	want := []string{"approvals_required", "max_duration", "pending_timeout", "emergency_duration"}
	if got := fields(err); !slices.Equal(got, want) {
		t.Fatalf("fields %q, want %q", got, want)
	}
	for _, one := range err.(*Error).All() {
		if one.Field == "emergency_duration" && one.Message != "Choose an emergency duration between 5 min and the maximum." {
			t.Fatalf("emergency duration's problem names a wrong maximum: %q", one.Message)
		}
	}
	// With the maximum right, the default above it is told, naming it.
	p.MaxDuration, p.DefaultDuration = time.Hour, 2*time.Hour
	p.ApprovalsRequired, p.PendingTimeout, p.EmergencyDuration = 1, time.Hour, 0
	err = p.Validate(DefaultOrgMax)
	if got := fields(err); !slices.Equal(got, []string{"default_duration"}) || err.Error() != "Choose a default between 5 min and the maximum (1 h)." {
		t.Fatalf("fields %q: %v", got, err)
	}
}

func TestSubmissionValidateTellsEveryProblem(t *testing.T) {
	p := NewPolicy(ScopeTask, "t")
	p.TicketRequired = true
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	past := now.Add(-time.Hour)
	s := Submission{Duration: time.Minute, Justification: "  ", ScheduledStart: &past}
	err := s.Validate(p, DefaultOrgMax, now)
	want := []string{"duration", "justification", "ticket", "scheduled_start"}
	if got := fields(err); !slices.Equal(got, want) {
		t.Fatalf("fields %q, want %q", got, want)
	}
	e := EmergencySubmission{Justification: "", Ticket: ""}
	if got := fields(e.Validate(p)); !slices.Equal(got, []string{"justification", "ticket"}) {
		t.Fatalf("emergency fields %q", got)
	}
}

// A new password and its confirmation are each told their own problem, both at once.
func TestValidatePasswordTellsBothFields(t *testing.T) {
	good := strings.Repeat("p", MinPasswordLen)
	long := strings.Repeat("p", MaxPasswordLen+1)
	for _, c := range []struct {
		name, pw, confirm string
		want              []string
	}{
		{"fine", good, good, nil},
		{"short and repeated", "short", "short", []string{"password"}},
		{"short and not repeated", "short", "other", []string{"password", "password_confirm"}},
		{"too long", long, long, []string{"password"}},
		{"not repeated", good, good + "x", []string{"password_confirm"}},
		{"at the longest", long[1:], long[1:], nil},
	} {
		if got := fields(ValidatePassword(c.pw, c.confirm)); !slices.Equal(got, c.want) {
			t.Errorf("%s: fields %q, want %q", c.name, got, c.want)
		}
	}
}
