package access

import (
	"context"

	"github.com/elevate-pam/elevate/internal/audit"
)

// AppendCheckEvent records ev the way a check records its event, so a test can tell what a
// check costs beside its event.
func (s *Service) AppendCheckEvent(ctx context.Context, ev *audit.Event) error {
	return s.db.SealAudit(ctx, ev)
}
