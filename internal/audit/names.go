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
