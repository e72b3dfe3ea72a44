package health

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"strings"
	"testing"
	"time"
)

// A clock 300 ms ahead or 180 ms behind is measured as such against a
// time server on the true clock (the lab's), within the round trip.
func TestMeasureClockOffset(t *testing.T) {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go ServeTime(conn, time.Now)
	for _, skew := range []time.Duration{300 * time.Millisecond, -180 * time.Millisecond, 0} {
		now := func() time.Time { return time.Now().Add(skew) }
		off, rtt, err := MeasureClockOffset(context.Background(), conn.LocalAddr().String(), now)
		if err != nil {
			t.Fatal(err)
		}
		if d := off - skew; d < -rtt-time.Millisecond || d > rtt+time.Millisecond {
			t.Errorf("skew %s measured as %s (round trip %s)", skew, off, rtt)
		}
	}
	var b bytes.Buffer
	if err := EmitClockOffset(&b, "us-east-1", -250*time.Millisecond, 500*time.Millisecond); err != nil || !strings.Contains(b.String(), `"ClockOffsetMs":250`) {
		t.Errorf("emitted %s (%v), want ClockOffsetMs 250", b.String(), err)
	}
	b.Reset()
	if err := EmitClockOffset(&b, "us-east-1", 100*time.Millisecond, 500*time.Millisecond); err != nil || b.Len() != 0 {
		t.Errorf("an offset under ε/4 emitted %q (%v): a healthy clock costs no metric", b.String(), err)
	}
}

// A silent or wrong server is an error that names it, not an offset.
func TestMeasureClockOffsetRefusesBadServers(t *testing.T) {
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, _, err := MeasureClockOffset(ctx, silent.LocalAddr().String(), time.Now); err == nil || !strings.Contains(err.Error(), silent.LocalAddr().String()) {
		t.Errorf("silent server: %v", err)
	}
	// A server that echoes the request back (mode 3, not 4).
	echo, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		buf := make([]byte, 48)
		for {
			n, from, err := echo.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = echo.WriteTo(buf[:n], from)
		}
	}()
	if _, _, err := MeasureClockOffset(context.Background(), echo.LocalAddr().String(), time.Now); err == nil || !strings.Contains(err.Error(), "mode 3") {
		t.Errorf("echoing server: %v", err)
	}
}

// Any answer parses to an offset or an error, never a panic; an answer
// that passes the checks echoes our timestamp.
func FuzzParseSNTP(f *testing.F) {
	req := make([]byte, 48)
	req[0] = 0x23
	t1 := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	binary.BigEndian.PutUint64(req[40:], toNTP(t1))
	good := make([]byte, 48)
	good[0], good[1] = 0x24, 1
	copy(good[24:], req[40:])
	binary.BigEndian.PutUint64(good[32:], toNTP(t1.Add(time.Second)))
	binary.BigEndian.PutUint64(good[40:], toNTP(t1.Add(time.Second)))
	f.Add(good)
	f.Add([]byte{0x24})
	f.Fuzz(func(t *testing.T, resp []byte) {
		_, _, err := parseSNTP(req, resp, t1, t1.Add(10*time.Millisecond))
		if err == nil && !bytes.Equal(resp[24:32], req[40:48]) {
			t.Fatalf("accepted an answer to another request: %x", resp)
		}
	})
}
