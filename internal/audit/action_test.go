package audit_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/elevate-pam/elevate/internal/audit"
)

// actionName is <object>.<past participle>: the object, a dot, optionally what part of the
// object changed ("auditor_", "step_up_"), then a past participle, optionally with its particle
// ("signed_in", "timed_out").
var actionName = regexp.MustCompile(`^[a-z]+(_[a-z]+)*\.([a-z]+_)*([a-z]+ed|set|sent|withdrawn)(_(in|out|up))?$`)

func TestActionNamesFollowTheRule(t *testing.T) {
	seen := map[string]audit.Action{}
	for _, a := range audit.Actions() {
		if !actionName.MatchString(a.String()) {
			t.Errorf("%q is not <object>.<past participle>", a)
		}
		if _, dup := seen[a.String()]; dup {
			t.Errorf("%q is declared twice", a)
		}
		seen[a.String()] = a
	}
	for _, a := range audit.Actions() {
		for _, old := range a.Aliases() {
			if other, taken := seen[old]; taken {
				t.Errorf("old name %q of %q is also the name of %q", old, a, other)
			}
			seen[old] = a
		}
	}
	if len(audit.Actions()) < 50 {
		t.Fatalf("only %d actions declared", len(audit.Actions()))
	}
}

func TestExpandAction(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  ", nil},
		{"request.approved", []string{"request.approved"}},
		{"user.disabled", []string{"user.disabled", "user.disable"}},
		{" user.disable ", []string{"user.disabled", "user.disable"}}, // an old name finds the new one too
		{"request.reviewed", []string{"request.reviewed", "request.approval_added"}},
		{"bench.action07", []string{"bench.action07"}}, // unknown names match themselves
		{"nothing.", []string{"nothing."}},
	} {
		if got := audit.ExpandAction(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("ExpandAction(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	got := audit.ExpandAction("settings.")
	for _, want := range []string{"settings.updated", "settings.enforcement_enabled", "settings.enforcement_on", "settings.enforcement_off"} {
		if !slices.Contains(got, want) {
			t.Errorf("settings. expands to %q, without %q", got, want)
		}
	}
	for _, name := range got {
		if !strings.HasPrefix(name, "settings.") {
			t.Errorf("settings. expands to %q", name)
		}
	}
}

func TestParseAction(t *testing.T) {
	if a, ok := audit.ParseAction("user.make_admin"); !ok || a != audit.UserAdminGranted {
		t.Fatalf("old name: %v %v", a, ok)
	}
	if a, ok := audit.ParseAction("request.created"); !ok || a != audit.RequestCreated {
		t.Fatalf("current name: %v %v", a, ok)
	}
	if _, ok := audit.ParseAction("request.created "); ok {
		t.Fatal("a name with a space parsed")
	}
}

// Event takes an Action, so the compiler refuses a producer's made-up name. This test closes
// the side door: no production code writes a string into an event's Action field.
func TestNoProducerSetsAnActionString(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == "node_modules" || (strings.HasPrefix(name, ".") && path != root) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || strings.HasSuffix(path, "_templ.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CompositeLit:
				if !isEventType(n.Type) {
					return true
				}
				for _, el := range n.Elts {
					if kv, ok := el.(*ast.KeyValueExpr); ok && isIdent(kv.Key, "Action") && !isStoredName(kv.Value) {
						t.Errorf("%s: an audit.Event's Action is set to something other than an Action's name", fset.Position(kv.Pos()))
					}
				}
			case *ast.AssignStmt:
				for i, lhs := range n.Lhs {
					if sel, ok := lhs.(*ast.SelectorExpr); ok && sel.Sel.Name == "Action" && i < len(n.Rhs) {
						if lit, ok := n.Rhs[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							t.Errorf("%s: an Action field is set to the literal %s", fset.Position(lit.Pos()), lit.Value)
						}
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// isEventType reports whether a composite literal builds an audit event.
func isEventType(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name == "Event"
	case *ast.SelectorExpr:
		return isIdent(e.X, "audit") && e.Sel.Name == "Event"
	}
	return false
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

// isStoredName accepts what may fill an event's Action: an Action's name inside this package,
// or a value copied from another event or row (a store reading events back).
func isStoredName(e ast.Expr) bool {
	if sel, ok := e.(*ast.SelectorExpr); ok {
		return sel.Sel.Name == "Action" || sel.Sel.Name == "name"
	}
	return false
}
