package access

import (
	"fmt"
	"slices"
)

// Role is what a token allows. Each role allows everything the roles
// before it do.
type Role string

// The roles of a token, from least to most.
const (
	RoleRead   Role = "read"
	RoleSubmit Role = "submit"
	RoleAdmin  Role = "admin"
)

// Roles lists every role, from least to most.
var Roles = []Role{RoleRead, RoleSubmit, RoleAdmin}

// ParseRole parses a role name.
func ParseRole(s string) (Role, error) {
	if slices.Contains(Roles, Role(s)) {
		return Role(s), nil
	}
	return "", fmt.Errorf("token role %q: want read, submit or admin", s)
}

// Allows reports whether a token of role r may call a method that needs
// role need.
func (r Role) Allows(need Role) bool {
	have, want := slices.Index(Roles, r), slices.Index(Roles, need)
	return have >= 0 && want >= 0 && have >= want
}
