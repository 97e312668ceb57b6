package lnpaystore

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestHashAndPubKeyPrintAndParseAsHex(t *testing.T) {
	pre, hash := newPreimage()
	text := fmt.Sprint(hash)
	if len(text) != 64 || strings.ToLower(text) != text {
		t.Fatalf("hash prints as %q", text)
	}
	if got := ok[Hash](t)(ParseHash(text)); got != hash {
		t.Fatalf("ParseHash(%q) = %v", text, got)
	}
	if got := ok[Hash](t)(ParseHash(strings.ToUpper(text))); got != hash {
		t.Fatal("upper-case hex is not accepted")
	}
	if got := ok[Preimage](t)(ParsePreimage(pre.String())); got != pre {
		t.Fatal("preimage does not round-trip")
	}

	var key PubKey
	key[0], key[32] = 0x02, 0xab
	want := "02" + strings.Repeat("00", 31) + "ab"
	if got := fmt.Sprintf("%v", key); got != want {
		t.Fatalf("pubkey prints as %q", got)
	}
	if got := ok[PubKey](t)(ParsePubKey(want)); got != key {
		t.Fatalf("ParsePubKey = %v", got)
	}

	// JSON carries hex strings both ways.
	b := ok[[]byte](t)(json.Marshal(struct {
		Hash   Hash
		PubKey PubKey
	}{hash, key}))
	if wantJSON := `{"Hash":"` + text + `","PubKey":"` + want + `"}`; string(b) != wantJSON {
		t.Fatalf("json %s, want %s", b, wantJSON)
	}
	var back struct {
		Hash   Hash
		PubKey PubKey
	}
	check(t, json.Unmarshal(b, &back))
	if back.Hash != hash || back.PubKey != key {
		t.Fatalf("json round trip: %+v", back)
	}

	for _, bad := range []string{"", "00", text[:63], text + "00", "zz" + text[2:], " " + text[1:]} {
		_, err := ParseHash(bad)
		wantErr(t, err, ErrInvalidArgument)
	}
	_, err := ParsePubKey(text) // 32 bytes, not 33
	wantErr(t, err, ErrInvalidArgument)
	if !strings.Contains(err.Error(), "66 hex characters") {
		t.Fatalf("error does not say what is needed: %v", err)
	}
}
