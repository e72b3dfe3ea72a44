package health

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"time"

	"github.com/pilotlight/pilotlight/internal/metrics"
)

// Clock offset: the write lease is safe while the regions' clocks differ by
// at most ε (control.LeaseConfig). Each health-check run asks a time server
// (SNTP, RFC 4330: on AWS the Amazon Time Sync public endpoint,
// time.aws.com; in the lab the lab's own, which reads the true clock while
// the clock-skew fault shifts the functions') how far this region's clock
// is off, and emits ClockOffsetMs; an alarm fires when it nears ε.

// ntpEpoch is 1900-01-01, where NTP timestamps count from.
var ntpEpoch = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)

func toNTP(t time.Time) uint64 {
	d := t.Sub(ntpEpoch)
	sec := uint64(d / time.Second)
	frac := uint64(d%time.Second) << 32 / uint64(time.Second)
	return sec<<32 | frac
}

func fromNTP(v uint64) time.Time {
	sec, frac := v>>32, v&0xffffffff
	return ntpEpoch.Add(time.Duration(sec)*time.Second + time.Duration(frac*uint64(time.Second)>>32))
}

// MeasureClockOffset asks the SNTP server at addr (host:port) for its time
// and returns how far now() is ahead of it (negative: behind) and the
// round trip. The answer is checked: mode, version, a stratum that says the
// server is synchronised, and our own timestamp echoed back.
func MeasureClockOffset(ctx context.Context, addr string, now func() time.Time) (offset, rtt time.Duration, err error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return 0, 0, fmt.Errorf("time server %s: %w", addr, err)
	}
	defer conn.Close()
	deadline := time.Now().Add(time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	req := make([]byte, 48)
	req[0] = 0<<6 | 4<<3 | 3 // no leap warning, version 4, client
	t1 := now()
	binary.BigEndian.PutUint64(req[40:], toNTP(t1))
	if _, err := conn.Write(req); err != nil {
		return 0, 0, fmt.Errorf("time server %s: %w", addr, err)
	}
	resp := make([]byte, 48)
	n, err := io.ReadFull(conn, resp)
	t4 := now()
	if err != nil && n < 48 {
		return 0, 0, fmt.Errorf("time server %s: no answer: %w", addr, err)
	}
	offset, rtt, err = parseSNTP(req, resp[:n], t1, t4)
	if err != nil {
		return 0, 0, fmt.Errorf("time server %s: %w", addr, err)
	}
	return offset, rtt, nil
}

// parseSNTP reads a server's answer to req, sent at t1 and received at t4
// (our clock), into our clock's offset from the server's and the round
// trip.
func parseSNTP(req, resp []byte, t1, t4 time.Time) (offset, rtt time.Duration, err error) {
	if len(resp) < 48 {
		return 0, 0, fmt.Errorf("an answer of %d bytes, not 48", len(resp))
	}
	if mode := resp[0] & 7; mode != 4 {
		return 0, 0, fmt.Errorf("answered in mode %d, not as a server", mode)
	}
	if stratum := resp[1]; stratum == 0 || stratum > 15 {
		return 0, 0, fmt.Errorf("not synchronised (stratum %d)", stratum)
	}
	if binary.BigEndian.Uint64(resp[24:]) != binary.BigEndian.Uint64(req[40:]) {
		return 0, 0, errors.New("the answer is not to our request")
	}
	t2, t3 := fromNTP(binary.BigEndian.Uint64(resp[32:])), fromNTP(binary.BigEndian.Uint64(resp[40:]))
	if t3.Before(t2) {
		return 0, 0, errors.New("the server says it answered before it received")
	}
	// The server is ahead of us by ((t2 - t1) + (t3 - t4)) / 2.
	ahead := t2.Sub(t1)/2 + t3.Sub(t4)/2
	return -ahead, t4.Sub(t1) - t3.Sub(t2), nil
}

// ServeTime answers SNTP requests on conn with now() until conn is closed:
// the lab's stand-in for time.aws.com.
func ServeTime(conn net.PacketConn, now func() time.Time) {
	buf := make([]byte, 512)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			return
		}
		recv := now()
		if n < 48 || buf[0]&7 != 3 {
			continue // not a client request
		}
		resp := make([]byte, 48)
		resp[0] = 0<<6 | 4<<3 | 4 // version 4, server
		resp[1] = 1               // stratum 1: a reference clock
		resp[2] = buf[2]
		resp[3] = 0xec // precision about 2^-20 s
		copy(resp[12:16], "LAB\x00")
		copy(resp[24:32], buf[40:48]) // originate: the client's transmit time
		binary.BigEndian.PutUint64(resp[16:], toNTP(recv))
		binary.BigEndian.PutUint64(resp[32:], toNTP(recv))
		binary.BigEndian.PutUint64(resp[40:], toNTP(now()))
		_, _ = conn.WriteTo(resp, from)
	}
}

// EmitClockOffset writes ClockOffsetMs — how far the region's clock is off,
// either way, in milliseconds — once the offset reaches a quarter of the
// lease's ε (the alarm fires at half). Below that it writes nothing: a
// custom metric costs for every hour it has data, and a healthy clock needs
// none (the alarm treats missing data as fine).
func EmitClockOffset(w io.Writer, region string, offset, epsilon time.Duration) error {
	if offset.Abs() < epsilon/4 {
		return nil
	}
	return metrics.Write(w, metrics.Namespace, time.Now(), map[string]string{"Region": region},
		metrics.Datapoint{Name: metrics.ClockOffsetMs, Unit: "Milliseconds", Value: math.Abs(float64(offset) / float64(time.Millisecond))})
}
