package auth

import (
	"net/http"
	"sort"
	"strings"
)

// Challenge is one WWW-Authenticate challenge.
type Challenge struct {
	Scheme string            // lower case: "basic", "bearer"
	Params map[string]string // keys in lower case: realm, service, scope, error
}

// ParseChallenges parses every WWW-Authenticate header of h. Malformed
// parts are skipped.
func ParseChallenges(h http.Header) []Challenge {
	var out []Challenge
	for _, v := range h.Values("WWW-Authenticate") {
		out = append(out, parseChallengeHeader(v)...)
	}
	return out
}

// parseChallengeHeader parses `Scheme k=v, k="v", Scheme2 ...`.
func parseChallengeHeader(s string) []Challenge {
	var out []Challenge
	var cur *Challenge
	i := 0
	skipSpace := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == ',') {
			i++
		}
	}
	token := func() string {
		start := i
		for i < len(s) && !strings.ContainsRune(" \t,=\"", rune(s[i])) {
			i++
		}
		return s[start:i]
	}
	for {
		skipSpace()
		if i >= len(s) {
			break
		}
		tok := token()
		if tok == "" {
			i++ // stray character
			continue
		}
		j := i
		for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
			j++
		}
		if j < len(s) && s[j] == '=' && cur != nil {
			i = j + 1
			for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
				i++
			}
			var val string
			if i < len(s) && s[i] == '"' {
				i++
				var b strings.Builder
				for i < len(s) && s[i] != '"' {
					if s[i] == '\\' && i+1 < len(s) {
						i++
					}
					b.WriteByte(s[i])
					i++
				}
				i++ // closing quote
				val = b.String()
			} else {
				val = token()
			}
			cur.Params[strings.ToLower(tok)] = val
			continue
		}
		out = append(out, Challenge{Scheme: strings.ToLower(tok), Params: map[string]string{}})
		cur = &out[len(out)-1]
	}
	return out
}

// Scope is one token scope: "repository:library/busybox:pull,push".
type Scope struct {
	Type    string // "repository", "registry"
	Name    string // "library/busybox", "catalog"
	Actions []string
}

// RepositoryScope is the scope for actions on one repository.
func RepositoryScope(repo string, actions ...string) Scope {
	return Scope{Type: "repository", Name: repo, Actions: actions}
}

// String renders the scope as the token server expects it.
func (s Scope) String() string {
	return s.Type + ":" + s.Name + ":" + strings.Join(s.Actions, ",")
}

// ParseScope parses "type:name:a,b". The name may hold colons (a port).
func ParseScope(s string) (Scope, bool) {
	first := strings.IndexByte(s, ':')
	last := strings.LastIndexByte(s, ':')
	if first <= 0 || last == first {
		return Scope{}, false
	}
	sc := Scope{Type: s[:first], Name: s[first+1 : last]}
	for _, a := range strings.Split(s[last+1:], ",") {
		if a != "" {
			sc.Actions = append(sc.Actions, a)
		}
	}
	return sc, sc.Name != ""
}

// ParseScopes parses a space-separated scope list (the "scope" challenge
// parameter).
func ParseScopes(s string) []Scope {
	var out []Scope
	for _, f := range strings.Fields(s) {
		if sc, ok := ParseScope(f); ok {
			out = append(out, sc)
		}
	}
	return out
}

// MergeScopes unions the actions of scopes naming the same resource and sorts
// everything, so equal sets render equally (the token cache key).
func MergeScopes(scopes ...[]Scope) []Scope {
	byRes := map[string]map[string]bool{}
	res := map[string]Scope{}
	for _, list := range scopes {
		for _, s := range list {
			k := s.Type + ":" + s.Name
			if byRes[k] == nil {
				byRes[k] = map[string]bool{}
				res[k] = Scope{Type: s.Type, Name: s.Name}
			}
			for _, a := range s.Actions {
				byRes[k][a] = true
			}
		}
	}
	keys := make([]string, 0, len(res))
	for k := range res {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]Scope, 0, len(keys))
	for _, k := range keys {
		s := res[k]
		for a := range byRes[k] {
			s.Actions = append(s.Actions, a)
		}
		sort.Strings(s.Actions)
		out = append(out, s)
	}
	return out
}
