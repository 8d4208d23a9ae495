// Package testutil holds what tests of several packages share: waiting on
// a condition (polled against a deadline) instead of sleeping for a guessed
// time. Only tests import it.
package testutil
