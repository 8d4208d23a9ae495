package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/common"

	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// statusOf is the HTTP status docker's daemon answers an error of hoist's
// kind with: the one mapping of error kinds to statuses.
func statusOf(err error) int {
	var fe *engine.FilterError
	var se *engine.StartError
	switch {
	case errdefs.IsNotFound(err):
		return http.StatusNotFound
	case errdefs.IsInvalidArgument(err), errors.As(err, &fe):
		return http.StatusBadRequest
	case errdefs.IsConflict(err), errdefs.IsAlreadyExists(err), errdefs.IsFailedPrecondition(err):
		return http.StatusConflict
	case errors.Is(err, errdefs.ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, errdefs.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, errdefs.ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, errdefs.ErrNotImplemented):
		return http.StatusNotImplemented
	case errors.As(err, &se) && se.Code == 127:
		// docker: the command was not found in the image
		return http.StatusBadRequest
	case errors.Is(err, context.Canceled):
		return 499 // the client went away
	}
	return http.StatusInternalServerError
}

// writeError answers err as docker's daemon: {"message": ...} with its
// status.
func writeError(w http.ResponseWriter, err error) {
	writeJSON(w, statusOf(err), common.ErrorResponse{Message: err.Error()})
}

// writeJSON answers v as JSON with status, in one write with its
// Content-Length (no chunks: a client reads it in one go).
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"message":"encoding the answer: `+strings.ReplaceAll(err.Error(), `"`, `'`)+`"}`)
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// maxJSONBody bounds a request's JSON body (container create, exec, ...).
const maxJSONBody = 8 << 20

// decodeBody reads r's JSON body into v: an empty body leaves v as it
// is; a malformed or oversized one is a bad parameter.
func decodeBody(r *http.Request, v any) error {
	if r.Body == nil || r.ContentLength == 0 {
		return nil
	}
	d := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxJSONBody))
	if err := d.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errdefs.InvalidArgumentf("request body too large (over %d bytes)", mbe.Limit)
		}
		if err.Error() == "EOF" {
			return nil
		}
		return errdefs.InvalidArgumentf("invalid JSON: %v", err)
	}
	return nil
}
