package protocol

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// sealedCopy is a sealed body and its opened result, with copies taken
// when they were made, so that a later check can find changes.
type sealedCopy struct {
	marker    string
	body      []byte
	opened    *Opened
	payload   []byte
	plaintext []byte
	digest    [32]byte
	bodyCopy  []byte
}

// TestOpenedSurvivesLaterCalls seals and opens many messages of the same
// size from several goroutines and keeps every result. Seal and Open reuse
// pooled memory of exactly that size, so the test checks afterwards that no
// later call changed an earlier body, Payload, Plaintext or SignDigest.
func TestOpenedSurvivesLaterCalls(t *testing.T) {
	suites, ends := concurrencySuites(t)

	const goroutines, perGoroutine = 8, 60
	results := make([][]sealedCopy, goroutines)
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range perGoroutine {
				i := (g + n) % len(suites)
				s := suites[i]
				response := n%3 == 2
				// Each message carries its own marker of payMarker's length.
				marker := fmt.Sprintf("P%012d", g*1000+n)
				var body []byte
				var err error
				receiver := ends[i].server
				if response {
					r := testResponse(s.profile)
					r.Payload = []byte(strings.Replace(responsePayload, payMarker, marker, 1))
					body, err = s.profile.SealResponse(ends[i].server, r)
					receiver = ends[i].client
				} else {
					r := testRequest(s.profile)
					r.Payload = []byte(strings.Replace(requestPayload, payMarker, marker, 1))
					body, err = s.profile.SealRequest(ends[i].client, r)
				}
				if err != nil {
					errs <- fmt.Errorf("%s: seal: %w", s, err)
					return
				}
				opened, err := openBody(s.profile, body, response, receiver)
				if err != nil {
					errs <- fmt.Errorf("%s: open: %w", s, err)
					return
				}
				results[g] = append(results[g], sealedCopy{
					marker:    marker,
					body:      body,
					opened:    opened,
					payload:   bytes.Clone(opened.Payload),
					plaintext: opened.Plaintext(),
					digest:    opened.SignDigest,
					bodyCopy:  bytes.Clone(body),
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	for _, list := range results {
		for _, r := range list {
			if !bytes.Contains(r.payload, []byte(r.marker)) {
				t.Errorf("payload of message %s lacks its marker: %s", r.marker, r.payload)
			}
			if !bytes.Equal(r.body, r.bodyCopy) {
				t.Errorf("sealed body of message %s changed after later calls:\n%s\nwas\n%s", r.marker, r.body, r.bodyCopy)
			}
			if !bytes.Equal(r.opened.Payload, r.payload) {
				t.Errorf("Payload of message %s changed after later calls:\n%s\nwas\n%s", r.marker, r.opened.Payload, r.payload)
			}
			if got := r.opened.Plaintext(); !bytes.Equal(got, r.plaintext) {
				t.Errorf("Plaintext of message %s changed after later calls:\n%s\nwas\n%s", r.marker, got, r.plaintext)
			}
			if r.opened.SignDigest != r.digest {
				t.Errorf("SignDigest of message %s changed after later calls", r.marker)
			}
		}
	}
}

// checkNoMembers fails unless every slot of a pooled scratch's member slice
// is zero. A member left in a slot keeps the last message's body, or its
// decrypted payload, reachable for as long as the scratch sits in the pool.
func checkNoMembers(t *testing.T, step string, plaintext object) {
	t.Helper()
	stale := 0
	var example member // preferably one parsed from the message
	for _, m := range plaintext[:cap(plaintext)] {
		if m.name == nil && m.value == nil && m.doc == nil {
			continue
		}
		stale++
		if stale == 1 || example.doc == nil && m.doc != nil {
			example = m
		}
	}
	if stale > 0 {
		t.Fatalf("%s: %d pooled member slots still refer to the message, such as %q = %q", step, stale, example.name, example.value)
	}
}

// TestOpenScratchDropsFailedMessage opens a message that fails after its
// members were copied into the pooled scratch, then takes scratches from
// the pool and checks that none still refers to that message.
func TestOpenScratchDropsFailedMessage(t *testing.T) {
	s := suite{ProfileFJS, SignSM3, EncSM4}
	client, server := suiteKeys(t, s)
	env, err := ProfileFJS.DecodeRequest(seal(t, s, client, false))
	if err != nil {
		t.Fatal(err)
	}
	withoutCipher := *server
	withoutCipher.Cipher = nil

	// The race detector drops some pooled items at random, so repeat.
	for range 50 {
		if _, err := env.Open(server); err != nil {
			t.Fatal(err)
		}
		_, err := env.Open(&withoutCipher)
		wantCode(t, err, CodeDecryptFailed)
		scratch := openPool.Get().(*openScratch)
		checkNoMembers(t, "after a failed Open", scratch.plaintext)
		openPool.Put(scratch)
	}
}

// TestSealScratchDropsFailedPayload does the same for a seal that fails
// on a business field named like a protocol field.
func TestSealScratchDropsFailedPayload(t *testing.T) {
	s := suite{ProfileFJS, SignMD5, EncNone}
	client, _ := suiteKeys(t, s)
	good := testRequest(ProfileFJS)
	bad := testRequest(ProfileFJS)
	bad.Payload = []byte(`{"org_code":"ORG001","idcard":"350582199711193519","chs_fjs_x":"1"}`)

	for range 50 {
		if _, err := ProfileFJS.SealRequest(client, good); err != nil {
			t.Fatal(err)
		}
		if _, err := ProfileFJS.SealRequest(client, bad); err == nil {
			t.Fatal("SealRequest accepts business field chs_fjs_x")
		}
		scratch := sealPool.Get().(*sealScratch)
		checkNoMembers(t, "after a failed SealRequest", scratch.plaintext)
		sealPool.Put(scratch)
	}
}

// TestSharedEnvelopeOpen opens one Envelope, and reads one Opened, from
// several goroutines at once. Under the race detector this fails if Open
// or Plaintext writes into the message or the Envelope, for example by
// decoding or decrypting the ciphertext in place.
func TestSharedEnvelopeOpen(t *testing.T) {
	for _, s := range []suite{{ProfileFJS, SignSM3, EncSM4}, {ProfileHSA, SignMD5, EncAES}} {
		t.Run(s.String(), func(t *testing.T) {
			client, server := suiteKeys(t, s)
			env, err := s.profile.DecodeRequest(seal(t, s, client, false))
			if err != nil {
				t.Fatal(err)
			}
			first, err := env.OpenWithDigest(server)
			if err != nil {
				t.Fatal(err)
			}
			wantPayload := bytes.Clone(first.Payload)
			wantPlaintext := first.Plaintext()

			errs := make(chan error, 8)
			var wg sync.WaitGroup
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 50 {
						opened, err := env.OpenWithDigest(server)
						if err != nil {
							errs <- err
							return
						}
						if !bytes.Equal(opened.Payload, wantPayload) || opened.SignDigest != first.SignDigest {
							errs <- fmt.Errorf("opening the same Envelope again gave payload %s", opened.Payload)
							return
						}
						if got := first.Plaintext(); !bytes.Equal(got, wantPlaintext) {
							errs <- fmt.Errorf("Plaintext changed to %s", got)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}
