package admin

import (
	"context"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
)

// SetupProgress is how far an organisation is through its first hour, for the admin's
// dashboard: each step is done when the database shows it, so ticks follow what really exists.
type SetupProgress = store.SetupFacts

// SetupProgress reads the first-hour checklist of the administrator me and the count of
// policies nobody can approve, in one statement.
func (s *Service) SetupProgress(ctx context.Context, me pam.UserID) (SetupProgress, error) {
	org, err := s.db.OrgSettings(ctx)
	if err != nil {
		return SetupProgress{}, err
	}
	return s.db.SetupFacts(ctx, string(me), org.DefaultApproverGroupID, audit.AccessChecked.String())
}
