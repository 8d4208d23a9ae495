package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// errKind names one row of the error table.
type errKind int

const (
	errBlobUnknown errKind = iota
	errBlobUploadInvalid
	errBlobUploadUnknown
	errDigestInvalid
	errManifestBlobUnknown
	errManifestInvalid
	errManifestUnknown
	errManifestTooLarge
	errNameInvalid
	errNameUnknown
	errSizeInvalid
	errTagInvalid
	errRangeInvalid
	errPaginationInvalid
	errUnauthorized
	errDenied
	errUnsupported
	errReadOnly
	errProxyWrite
	errUpstream
	errTooManyRequests
	errNotFound
	errMethodNotAllowed
	errUnknown
)

// errorTable is the ONE table of registry errors: the distribution-spec code
// (plus Docker's TAG_INVALID and PAGINATION_NUMBER_INVALID), HTTP status and
// default message of every error the server returns.
var errorTable = [...]struct {
	code    string
	status  int
	message string
}{
	errBlobUnknown:         {"BLOB_UNKNOWN", http.StatusNotFound, "blob unknown to registry"},
	errBlobUploadInvalid:   {"BLOB_UPLOAD_INVALID", http.StatusBadRequest, "blob upload invalid"},
	errBlobUploadUnknown:   {"BLOB_UPLOAD_UNKNOWN", http.StatusNotFound, "blob upload unknown to registry"},
	errDigestInvalid:       {"DIGEST_INVALID", http.StatusBadRequest, "provided digest did not match uploaded content"},
	errManifestBlobUnknown: {"MANIFEST_BLOB_UNKNOWN", http.StatusBadRequest, "manifest references a manifest or blob unknown to registry"},
	errManifestInvalid:     {"MANIFEST_INVALID", http.StatusBadRequest, "manifest invalid"},
	errManifestUnknown:     {"MANIFEST_UNKNOWN", http.StatusNotFound, "manifest unknown to registry"},
	errManifestTooLarge:    {"SIZE_INVALID", http.StatusRequestEntityTooLarge, "manifest exceeds the size limit"},
	errNameInvalid:         {"NAME_INVALID", http.StatusBadRequest, "invalid repository name"},
	errNameUnknown:         {"NAME_UNKNOWN", http.StatusNotFound, "repository name not known to registry"},
	errSizeInvalid:         {"SIZE_INVALID", http.StatusBadRequest, "provided length did not match content length"},
	errTagInvalid:          {"TAG_INVALID", http.StatusBadRequest, "invalid tag"},
	errRangeInvalid:        {"BLOB_UPLOAD_INVALID", http.StatusRequestedRangeNotSatisfiable, "chunk does not start where the upload ends"},
	errPaginationInvalid:   {"PAGINATION_NUMBER_INVALID", http.StatusBadRequest, "invalid number of results requested"},
	errUnauthorized:        {"UNAUTHORIZED", http.StatusUnauthorized, "authentication required"},
	errDenied:              {"DENIED", http.StatusForbidden, "requested access to the resource is denied"},
	errUnsupported:         {"UNSUPPORTED", http.StatusMethodNotAllowed, "the operation is unsupported"},
	errReadOnly:            {"UNSUPPORTED", http.StatusMethodNotAllowed, "the registry is read-only"},
	errProxyWrite:          {"UNSUPPORTED", http.StatusMethodNotAllowed, "The operation is unsupported."}, // registry:2's words in proxy mode
	errUpstream:            {"UNKNOWN", http.StatusBadGateway, "the upstream registry of this cache failed"},
	errTooManyRequests:     {"TOOMANYREQUESTS", http.StatusTooManyRequests, "too many requests"},
	errNotFound:            {"NOT_FOUND", http.StatusNotFound, "not found"},
	errMethodNotAllowed:    {"UNSUPPORTED", http.StatusMethodNotAllowed, "method not allowed"},
	errUnknown:             {"UNKNOWN", http.StatusInternalServerError, "unknown error"},
}

type errorBody struct {
	Errors []errorEntry `json:"errors"`
}

type errorEntry struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// writeError answers with the table's status and a spec error body. detail
// (may be nil) is an error or any JSON value.
func writeError(w http.ResponseWriter, r *http.Request, kind errKind, detail any) {
	e := errorTable[kind]
	if err, ok := detail.(error); ok {
		detail = err.Error()
	}
	b, _ := json.Marshal(errorBody{Errors: []errorEntry{{Code: e.code, Message: e.message, Detail: detail}}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.status)
	if r.Method != http.MethodHead {
		w.Write(b)
	}
}

// classifyUpstream translates an error of a pull-through cache's fetch:
// what the upstream does not have is notFound, a failure of the upstream
// (unreachable, refusing, corrupt content) is 502.
func classifyUpstream(err error, notFound errKind) errKind {
	if errdefs.IsNotFound(err) {
		return notFound
	}
	return errUpstream
}

// classify translates a storage error (errdefs classes) into a table row;
// notFound and invalid are the rows for this endpoint's NotFound and
// InvalidArgument cases.
func classify(err error, notFound, invalid errKind) errKind {
	switch {
	case errdefs.IsNotFound(err):
		return notFound
	case errdefs.IsInvalidArgument(err):
		return invalid
	case errors.Is(err, errdefs.ErrDataLoss):
		return errDigestInvalid
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errSizeInvalid
	case errors.Is(err, errdefs.ErrFailedPrecondition):
		return errRangeInvalid
	case errors.Is(err, errdefs.ErrUnauthorized):
		return errUnauthorized
	case errors.Is(err, errdefs.ErrForbidden):
		return errDenied
	case errors.Is(err, errdefs.ErrNotImplemented):
		return errUnsupported
	case errors.Is(err, errdefs.ErrUnavailable):
		return errTooManyRequests
	}
	return errUnknown
}
