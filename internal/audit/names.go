package audit

// Ref is what an event points at: a target (its type and id) or, with type "request", the
// request an event belongs to.
type Ref struct {
	Type string
	ID   string
}

// Name is how a Ref reads to a person: "Rhea Requester" and, for a request, the scope it asks
// for ("Mailbox admin"). A Ref whose object is gone has no Name, and the page shows its id.
type Name struct {
	Name   string
	Detail string
}

// String joins the name and its detail: "Rhea Requester · Mailbox admin".
func (n Name) String() string {
	switch {
	case n.Detail == "":
		return n.Name
	case n.Name == "":
		return n.Detail
	}
	return n.Name + " · " + n.Detail
}

// Refs are the objects an event names that a person reads by name: its target, its request and,
// when a user acted, its actor.
func (e Event) Refs() []Ref {
	var refs []Ref
	if e.TargetID != "" {
		refs = append(refs, Ref{Type: e.TargetType, ID: e.TargetID})
	}
	if e.RequestID != "" {
		refs = append(refs, Ref{Type: "request", ID: e.RequestID})
	}
	if e.ActorID != "" && e.ActorType == ActorUser {
		refs = append(refs, Ref{Type: "user", ID: e.ActorID})
	}
	return refs
}
