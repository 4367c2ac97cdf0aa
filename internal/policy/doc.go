// Package policy is hdscale's public label and annotation API.
package policy
