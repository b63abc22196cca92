// Package verify confirms that the person on an H5 page is who the request
// names: the healthcare e-voucher identity check and the face check that
// the platform runs before an authorization or a payment.
package verify

import (
	"context"
	"errors"
)

// Subject is the person to verify.
type Subject struct {
	Name     string
	IDCard   string
	CertType string
}

// Verifier checks a person's identity and face. Evidence holds what the
// page collected (for the simulator, the tester's choice). Verify returns
// nil only when the person is confirmed; a *FailedError when the checks
// ran and failed; any other error when they could not run.
type Verifier interface {
	Verify(ctx context.Context, s Subject, evidence map[string]string) error
}

// FailedError is a verification that ran and did not confirm the person.
type FailedError struct{ Reason string }

func (e *FailedError) Error() string { return "verification failed: " + e.Reason }

// ErrNotConfigured is returned by Unavailable: without a verifier the pages
// fail closed rather than let anyone through.
var ErrNotConfigured = errors.New("no identity verifier is configured")

// Unavailable is the verifier of a production server that has none
// configured: it confirms nobody.
type Unavailable struct{}

func (Unavailable) Verify(context.Context, Subject, map[string]string) error {
	return ErrNotConfigured
}

// Simulator is the sandbox's verifier: the tester chooses the outcome with
// evidence "face" set to "pass" or "fail". It exists only in sandbox mode.
type Simulator struct{}

// FaceEvidence is the evidence key the simulator reads.
const FaceEvidence = "face"

func (Simulator) Verify(_ context.Context, _ Subject, evidence map[string]string) error {
	switch evidence[FaceEvidence] {
	case "pass":
		return nil
	case "fail":
		return &FailedError{Reason: "simulated face check failed"}
	}
	return &FailedError{Reason: `simulator needs evidence face=pass or face=fail`}
}
