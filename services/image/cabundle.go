package image

import (
	"encoding/pem"
	"sync"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// caBundle is the PEM bundle of Mozilla NSS's trusted roots as the Go
// module golang.org/x/crypto/x509roots/fallback ships them, at the version
// go.mod pins: the bundle (and so the digest) is the same on every
// builder, and a new bundle comes with a module update. Roots that NSS
// constrains (a distrust-after date) are left out: a PEM file cannot
// carry the constraint, and trusting them unconstrained would be wider
// than NSS.
var caBundle = sync.OnceValue(func() []byte {
	var out []byte
	for r := range bundle.Roots() {
		if r.Constraint != nil {
			continue
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate})...)
	}
	return out
})
