// Package auth implements the registry authentication challenge flow of
// the distribution spec and Docker's token protocol: it parses
// WWW-Authenticate challenges (Basic; Bearer with realm, service and scope),
// fetches tokens from the realm (GET with basic credentials or anonymously;
// POST of an OAuth2 refresh-token form when an identity token is
// configured), caches them per scope set until they expire, and sets the
// Authorization header of requests. It owns no files.
package auth
