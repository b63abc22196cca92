module chsgate

go 1.26.8

require (
	github.com/emmansun/gmsm v0.44.1
	github.com/go-json-experiment/json v1.27.2
)

require (
	golang.org/x/crypto v0.54.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
