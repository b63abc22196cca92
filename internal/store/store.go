// Package store defines the platform's database: the types it holds and the
// Store interface the gateway and the business services use. The
// implementation lives in package sqlstore, over SQLite or PostgreSQL; the
// program picks the driver where it is assembled.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors returned by Store methods. Implementations wrap them, so test with
// errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	// ErrChanged means a row changed between reading it and writing it
	// back, so the write was not made.
	ErrChanged = errors.New("changed since it was read")
	// ErrReplay means RememberRequest saw the same request before.
	ErrReplay = errors.New("request seen before")
	// ErrInvalidImport means an import file broke a rule; the error names the
	// line and nothing from the file was stored.
	ErrInvalidImport = errors.New("invalid import")
)

// Store is the platform's database. Every method is safe for concurrent use
// by several goroutines and by several processes sharing one PostgreSQL.
type Store interface {
	// Ping checks that the database is reachable.
	Ping(ctx context.Context) error
	Close() error

	// CreateChannel stores a new channel; ErrExists if its appid is taken.
	CreateChannel(ctx context.Context, c *Channel) error
	// UpdateChannel replaces the channel with c.AppID if its UpdatedAt is
	// still previous, the value read before c was changed: ErrChanged if
	// another update came first, ErrNotFound if there is no such channel.
	UpdateChannel(ctx context.Context, c *Channel, previous time.Time) error
	// Channel returns the channel with appid; ErrNotFound if none.
	Channel(ctx context.Context, appid string) (*Channel, error)
	// Channels returns every channel, ordered by appid.
	Channels(ctx context.Context) ([]*Channel, error)

	// SaveToken stores an access token of token mode, and deletes the
	// tokens of the same channel that have expired at now.
	SaveToken(ctx context.Context, t *Token, now time.Time) error
	// Token returns the token whose SHA-256 is hash; ErrNotFound if none.
	// Expired tokens may be returned: the caller compares ExpiresAt.
	Token(ctx context.Context, hash []byte) (*Token, error)

	// RememberRequest records that appid sent a request with this sign
	// string digest, kept until expires. It returns ErrReplay when the pair
	// is already recorded and not yet expired at now. Concurrent calls with
	// the same pair succeed at most once.
	RememberRequest(ctx context.Context, appid string, digest []byte, now, expires time.Time) error

	// ImportPersons applies one import file in one transaction: persons are
	// inserted or updated by ID number, balances that differ from the ledger
	// are posted as adjustment entries, and family networks are checked to
	// have exactly one head. Importing the same records twice changes
	// nothing. On any failure nothing is stored, and the error wraps
	// ErrInvalidImport with the line number where one applies.
	ImportPersons(ctx context.Context, records []PersonRecord, now time.Time) (ImportResult, error)
	// PersonByIDCard returns the person with this ID number; ErrNotFound if
	// none.
	PersonByIDCard(ctx context.Context, idcard string) (*Person, error)
	// PersonByID returns the person with the store's id; ErrNotFound if
	// none.
	PersonByID(ctx context.Context, id int64) (*Person, error)
	// FamilyMembers returns the persons of a family network, head first;
	// ErrNotFound if the network does not exist.
	FamilyMembers(ctx context.Context, familyID string) ([]*Person, error)
	// PersonCount returns how many persons the registry holds.
	PersonCount(ctx context.Context) (int, error)
	// AccountBalance returns the balance in fen of the person's personal
	// account, and false when the person has none.
	AccountBalance(ctx context.Context, personID int64) (int64, bool, error)
	// LedgerCheck verifies the ledger's invariants: every movement's entries
	// sum to zero, and every account's balance equals the sum of its entries.
	LedgerCheck(ctx context.Context) error

	AuthStore
	PaymentStore
	ReconStore
}

// SecurityMode is a channel's authentication method.
type SecurityMode string

const (
	ModeKey       SecurityMode = "key"       // chs_fjs_appid and chs_fjs_appsecret in every request
	ModeToken     SecurityMode = "token"     // an OAuth2 client-credentials token in chs_fjs_token
	ModeAnonymous SecurityMode = "anonymous" // internal systems on the internal listener only
)

// Channel is a third-party platform allowed to call the gateway. Secrets
// holds the channel's secrets encrypted under the master key, so the store
// never handles them in clear.
type Channel struct {
	AppID         string
	OrgCode       string
	ServiceID     string
	Profile       string // "fjs" or "hsa"
	SignType      string // MD5, SM3, SM2 or RSA
	EncType       string // SM4, AES, RSA, PKCS7, or "" for clear text
	KeyDerivation string // salt, salt-hex, appid or raw
	SecurityMode  SecurityMode
	// SM2PublicKey is the channel's public key, hex of 04‖X‖Y: user_id is
	// encrypted to it, and SM2 signatures of the channel verify under it.
	SM2PublicKey string
	// RSAPublicKey is the channel's RSA public key, PEM (PKIX), for sign
	// type RSA: the channel's RSA signatures verify under it. It is empty
	// for the other sign types.
	RSAPublicKey string
	AllowedHosts []string // host or host:port allowed in notify, redirect and fail URLs
	Functions    []string // function ids the channel may call; empty means all
	Disabled     bool
	Secrets      []byte // sealed by the channel registry under the master key
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Token is an access token issued by POST /oauth/token. Only its SHA-256 is
// stored, so a database leak does not leak live tokens.
type Token struct {
	Hash      []byte
	AppID     string
	ExpiresAt time.Time
}

// PersonRecord is one validated line of a person import file.
type PersonRecord struct {
	Line        int // 1-based line number in the file, for errors
	Name        string
	IDCard      string
	CertType    string
	Phone       string
	Region      string // 6-digit Fujian region code where insured
	InsuType    string // 310 employee, 390 resident
	InsuStatus  string // 1 normal, 2 suspended, 4 terminated
	CompanyName string
	// Balance is the personal account balance in fen; HasAccount is false
	// for persons without one (residents).
	Balance    int64
	HasAccount bool
	FamilyID   string // empty when the person is in no family network
	Relation   string // hser_rlts: relationship to the head, "0" is the head
}

// ImportResult counts what an import changed.
type ImportResult struct {
	Inserted    int // persons new to the registry
	Updated     int // persons whose fields changed
	Unchanged   int
	Adjustments int // balance adjustments posted to the ledger
}

// Person is an insured person of the registry.
type Person struct {
	ID          int64
	Name        string
	IDCard      string
	CertType    string
	Phone       string
	Region      string
	InsuType    string
	InsuStatus  string
	CompanyName string
	FamilyID    string
	Relation    string
}

// Authorization storage, used by CI00.01.00.01, the authorization page and
// CI00.01.00.02.
type AuthStore interface {
	// CreateAuthTicket stores a ticket; ErrExists if its hash is taken.
	CreateAuthTicket(ctx context.Context, t *AuthTicket) error
	// AuthTicket returns the ticket whose SHA-256 is hash; ErrNotFound if
	// none. Expired and used tickets are returned too: the caller decides.
	AuthTicket(ctx context.Context, hash []byte) (*AuthTicket, error)
	// CompleteAuthorization uses the ticket up and stores a, in one
	// transaction: it sets the ticket's UsedAt to now, stores a with its
	// persons, and marks every earlier authorization of the same applicant
	// (cert type and ID number) for the same org code superseded at now. It
	// returns ErrTicketUsed, and stores nothing, when the ticket was already
	// used, also when two calls race.
	CompleteAuthorization(ctx context.Context, ticketHash []byte, a *Authorization, now time.Time) error
	// Authorization returns the authorization whose code's SHA-256 is hash;
	// ErrNotFound if none.
	Authorization(ctx context.Context, hash []byte) (*Authorization, error)
	// MarkAuthorizationPaid sets PaidAt of the authorization whose code's
	// SHA-256 is codeHash to now; ErrNotFound if none. It is idempotent: on
	// a code already paid it keeps the first PaidAt and returns nil, so it
	// cannot tell the caller that the code had paid before. A payment that
	// must use a code once checks that in its own transaction.
	MarkAuthorizationPaid(ctx context.Context, codeHash []byte, now time.Time) error
}

// ErrTicketUsed means a page ticket was already used to complete its page.
var ErrTicketUsed = errors.New("ticket already used")

// AuthTicket is a pending authorization page, created by CI00.01.00.01 and
// used up when the person completes the page. Only the SHA-256 of the
// ticket in the page's URL is stored.
type AuthTicket struct {
	Hash    []byte
	AppID   string
	OrgCode string
	// Request is the CI00.01.00.01 business content as JSON, validated,
	// from which the page and the authorization are built.
	Request   []byte
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero until the page is completed
}

// Authorization is an issued auth code and what it covers. Only the SHA-256
// of the code is stored.
type Authorization struct {
	CodeHash          []byte
	AppID             string
	OrgCode           string
	ApplicantCertType string
	ApplicantIDCard   string
	// Persons are the applicant first, then each other person of the
	// request once, authorized or not.
	Persons      []AuthorizedPerson
	CreatedAt    time.Time
	ExpiresAt    time.Time
	SupersededAt time.Time // zero while no newer code of the applicant and org exists
	PaidAt       time.Time // zero until a payment is confirmed with the code
}

// AuthorizedPerson is one person of an authorization.
type AuthorizedPerson struct {
	PersonID   int64 // 0 when the registry does not know the person
	Name       string
	IDCard     string
	CertType   string
	Applicant  bool
	Authorized bool
	FailCode   int    // why not authorized; 0 when authorized
	FailMsg    string // the message of FailCode, filled in
}
