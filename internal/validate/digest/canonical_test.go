package digest

import (
	"math/big"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func S(v string) types.AttributeValue  { return &types.AttributeValueMemberS{Value: v} }
func N(v string) types.AttributeValue  { return &types.AttributeValueMemberN{Value: v} }
func B(v ...byte) types.AttributeValue { return &types.AttributeValueMemberB{Value: v} }
func M(m Item) types.AttributeValue    { return &types.AttributeValueMemberM{Value: m} }
func L(v ...types.AttributeValue) types.AttributeValue {
	return &types.AttributeValueMemberL{Value: v}
}

func TestNormalizeNumber(t *testing.T) {
	same := [][]string{
		{"1", "1.0", "1e0", "10e-1", "0.1E1", "+1", "01", "1.000"},
		{"0", "0.0", "-0", "0e10", ".0", "0."},
		{"-12.5", "-1.25e1", "-125E-1", "-0012.50"},
		{"123456789012345678901234567890123456780", "12345678901234567890123456789012345678e1"},
		{"1e-130", "0.1e-129"},
	}
	for _, group := range same {
		want := NormalizeNumber(group[0])
		if strings.HasPrefix(want, "?") {
			t.Fatalf("%q taken for not a number", group[0])
		}
		for _, s := range group[1:] {
			if got := NormalizeNumber(s); got != want {
				t.Errorf("NormalizeNumber(%q) = %q, want %q (as %q)", s, got, want, group[0])
			}
		}
	}
	differ := [][2]string{{"1", "-1"}, {"1", "10"}, {"0.1", "1"}, {"1e5", "1e-5"}, {"12", "21"}}
	for _, p := range differ {
		if NormalizeNumber(p[0]) == NormalizeNumber(p[1]) {
			t.Errorf("%q and %q normalise the same", p[0], p[1])
		}
	}
	for _, bad := range []string{"", "-", "e5", "1e", "1.2.3", "abc", "1e+", "0x10", "1 "} {
		if got := NormalizeNumber(bad); !strings.HasPrefix(got, "?") {
			t.Errorf("NormalizeNumber(%q) = %q, want it flagged as not a number", bad, got)
		}
	}
}

// FuzzNormalizeNumber checks the normal form against exact rational
// arithmetic: two numbers normalise the same exactly when they are equal.
func FuzzNormalizeNumber(f *testing.F) {
	for _, s := range [][2]string{{"1", "1.0"}, {"1e0", "10e-1"}, {"-0", "0"}, {"12.5", "125e-1"}, {"3", "4"}, {".5", "5e-1"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ra, aok := rat(a)
		rb, bok := rat(b)
		na, nb := NormalizeNumber(a), NormalizeNumber(b)
		if aok != !strings.HasPrefix(na, "?") {
			// Only decimal forms DynamoDB accepts count; big.Rat also takes
			// fractions and such, which rat rejects.
			t.Fatalf("%q: number=%v but normalised to %q", a, aok, na)
		}
		if !aok || !bok {
			return
		}
		if (ra.Cmp(rb) == 0) != (na == nb) {
			t.Fatalf("%q (%s) and %q (%s): equal=%v but normal forms %q, %q", a, ra, b, rb, ra.Cmp(rb) == 0, na, nb)
		}
		// "-125E1" means -1.25e1; read back in that spelling it is the same.
		sign, digits := "", na
		if strings.HasPrefix(na, "-") {
			sign, digits = "-", na[1:]
		}
		if again := NormalizeNumber(sign + digits[:1] + "." + digits[1:]); na != "0" && again != na {
			t.Fatalf("normal form %q is not stable: %q", na, again)
		}
	})
}

// rat parses a DynamoDB-style decimal (sign, digits, point, exponent) with
// an exponent small enough for exact arithmetic.
func rat(s string) (*big.Rat, bool) {
	body := strings.TrimLeft(s, "+-")
	if len(s)-len(body) > 1 || body == "" {
		return nil, false
	}
	mant, exp, hasExp := strings.Cut(strings.ToLower(body), "e")
	if hasExp {
		e := strings.TrimLeft(exp, "+-")
		if e == "" || len(exp)-len(e) > 1 || len(e) > 3 || !allDigits(e) {
			return nil, false
		}
	}
	i, f, _ := strings.Cut(mant, ".")
	if i+f == "" || !allDigits(i) || !allDigits(f) || strings.Count(mant, ".") > 1 {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(s)
	return r, ok
}

func TestCanonicalEqualData(t *testing.T) {
	a := Item{
		"pk":    S("order#1"),
		"n":     N("1.0"),
		"set":   &types.AttributeValueMemberSS{Value: []string{"b", "a", "c"}},
		"nums":  &types.AttributeValueMemberNS{Value: []string{"1", "2.50", "3e1"}},
		"bin":   &types.AttributeValueMemberBS{Value: [][]byte{{2}, {1}}},
		"deep":  M(Item{"x": N("100"), "y": L(N("1"), M(Item{"z": N("0.5"), "w": S("w")}))}),
		"bytes": B(0, 1, 2),
		"ok":    &types.AttributeValueMemberBOOL{Value: true},
		"none":  &types.AttributeValueMemberNULL{Value: true},
		// replication bookkeeping is not data
		"pilotlight:rep:version": S("1@us-east-1"),
	}
	b := Item{
		"nums":               &types.AttributeValueMemberNS{Value: []string{"30", "1e0", "2.5"}},
		"deep":               M(Item{"y": L(N("1.00"), M(Item{"w": S("w"), "z": N("5e-1")})), "x": N("1e2")}),
		"set":                &types.AttributeValueMemberSS{Value: []string{"c", "a", "b"}},
		"bin":                &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2}}},
		"none":               &types.AttributeValueMemberNULL{Value: true},
		"ok":                 &types.AttributeValueMemberBOOL{Value: true},
		"bytes":              B(0, 1, 2),
		"n":                  N("1"),
		"pk":                 S("order#1"),
		"aws:rep:updatetime": N("123"),
	}
	if string(AppendCanonical(nil, a)) != string(AppendCanonical(nil, b)) {
		t.Fatalf("equal data encodes differently:\n%q\n%q", AppendCanonical(nil, a), AppendCanonical(nil, b))
	}
}

func TestCanonicalDifferences(t *testing.T) {
	base := func() Item {
		return Item{"pk": S("k"), "a": N("1"), "m": M(Item{"l": L(S("x"), S("y"))}), "b": B(1)}
	}
	cases := map[string]func(Item){
		"changed attribute":    func(i Item) { i["a"] = N("2") },
		"type change N→S":      func(i Item) { i["a"] = S("1") },
		"extra attribute":      func(i Item) { i["c"] = S("") },
		"missing attribute":    func(i Item) { delete(i, "a") },
		"nested value":         func(i Item) { i["m"] = M(Item{"l": L(S("x"), S("z"))}) },
		"list order":           func(i Item) { i["m"] = M(Item{"l": L(S("y"), S("x"))}) },
		"binary byte":          func(i Item) { i["b"] = B(2) },
		"binary vs string":     func(i Item) { i["b"] = S("\x01") },
		"list vs set":          func(i Item) { i["m"] = M(Item{"l": &types.AttributeValueMemberSS{Value: []string{"x", "y"}}}) },
		"renamed attribute":    func(i Item) { i["aa"] = i["a"]; delete(i, "a") },
		"string split between": func(i Item) { i["m"] = M(Item{"l": L(S("xy"))}) },
	}
	want := string(AppendCanonical(nil, base()))
	for name, change := range cases {
		it := base()
		change(it)
		if string(AppendCanonical(nil, it)) == want {
			t.Errorf("%s: not detected", name)
		}
	}
}

func TestSumRoundTrip(t *testing.T) {
	h := Hasher{Keys: []string{"pk"}, Buckets: 16}
	var d Digests = make(Digests, 16)
	for i := range 100 {
		ih, b := h.Item(Item{"pk": S(strings.Repeat("x", i))})
		d[b].AddItem(ih)
	}
	text, _ := d.MarshalText()
	var back Digests
	if err := back.UnmarshalText(text); err != nil {
		t.Fatal(err)
	}
	if back.Total() != d.Total() || d.Total().Count != 100 {
		t.Fatalf("round trip: %v vs %v", back.Total(), d.Total())
	}
	if _, err := ParseSum("12:zz"); err == nil {
		t.Fatal("bad digest accepted")
	}
}

func benchItem(i int) Item {
	return Item{
		"pk":         S("order#" + strings.Repeat("x", i%7) + "12345678"),
		"customer":   S("customer-977"),
		"amount":     N("123.45"),
		"region":     S("us-east-1"),
		"epoch":      N("1"),
		"created_at": S("2026-11-01T00:00:00.123456789Z"),
		"tags":       &types.AttributeValueMemberSS{Value: []string{"web", "t3"}},
	}
}

// BenchmarkHasher is the validator's per-item work on top of the scan.
func BenchmarkHasher(b *testing.B) {
	h := Hasher{Keys: []string{"pk"}, Buckets: 4096}
	it := benchItem(3)
	b.ReportAllocs()
	for b.Loop() {
		h.Item(it)
	}
}
