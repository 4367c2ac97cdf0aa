package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"strconv"
	"time"
)

// executionRequest is what one POST /engine/runtime asks for.
type executionRequest struct {
	Work  work
	JobID json.RawMessage // echoed back; nil if the caller sent none
}

// executionBody is the part of hetida's WorkflowExecutionInput the fake
// reads. Every other field (code_modules, components, workflow,
// configuration, workflow_wiring, ...) is accepted and ignored.
type executionBody struct {
	CPUSeconds  *float64        `json:"cpu_seconds"`
	WallSeconds *float64        `json:"wall_seconds"`
	JobID       json.RawMessage `json:"job_id"`
}

// parseExecution reads an execution request from its body (empty or one JSON
// object) and query (cpu_ms, wall_ms; they win over the body's cpu_seconds,
// wall_seconds). Each amount must be finite, >= 0 and at most maxWork.
func parseExecution(body io.Reader, q url.Values, maxWork time.Duration) (executionRequest, error) {
	var req executionRequest
	b, err := decodeBody(body)
	if err != nil {
		return req, err
	}
	if len(b.JobID) > 0 && !bytes.Equal(b.JobID, []byte("null")) {
		req.JobID = b.JobID
	}
	amounts := []struct {
		dst        *time.Duration
		field      string
		body       *float64
		param      string
		paramUnits time.Duration
	}{
		{&req.Work.CPU, "cpu_seconds", b.CPUSeconds, "cpu_ms", time.Millisecond},
		{&req.Work.Wall, "wall_seconds", b.WallSeconds, "wall_ms", time.Millisecond},
	}
	for _, a := range amounts {
		if q.Has(a.param) {
			v, err := strconv.ParseFloat(q.Get(a.param), 64)
			if err != nil {
				return req, fmt.Errorf("query parameter %s=%q is not a number", a.param, q.Get(a.param))
			}
			if *a.dst, err = toDuration(a.param, v, a.paramUnits, maxWork); err != nil {
				return req, err
			}
			continue
		}
		if a.body != nil {
			if *a.dst, err = toDuration(a.field, *a.body, time.Second, maxWork); err != nil {
				return req, err
			}
		}
	}
	return req, nil
}

// decodeBody accepts an empty body or exactly one JSON object.
func decodeBody(r io.Reader) (executionBody, error) {
	var b executionBody
	dec := json.NewDecoder(r)
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return b, nil // empty body: everything from the query
		}
		return b, fmt.Errorf("request body is not valid JSON: %w", err)
	}
	if raw[0] != '{' {
		return b, fmt.Errorf("request body must be a JSON object, got %s", jsonKind(raw[0]))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err == nil {
			err = errors.New("more than one JSON value")
		}
		return b, fmt.Errorf("unexpected data after the JSON object: %w", err)
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return b, fmt.Errorf("field %s: want a number of seconds, got JSON %s", te.Field, te.Value)
		}
		return b, fmt.Errorf("request body: %w", err)
	}
	return b, nil
}

func jsonKind(first byte) string {
	switch first {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

// toDuration converts v units to a duration, rejecting NaN, infinities,
// negative values and values above max.
func toDuration(name string, v float64, unit, max time.Duration) (time.Duration, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, fmt.Errorf("%s must be a finite number >= 0, got %v", name, v)
	}
	if v > float64(max)/float64(unit) {
		return 0, fmt.Errorf("%s=%v exceeds the maximum of %s per execution", name, v, max)
	}
	return time.Duration(math.Round(v * float64(unit))), nil
}
