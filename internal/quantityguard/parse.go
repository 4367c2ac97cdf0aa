package quantityguard

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"
)

// ParseQuantity is resource.ParseQuantity for a string hdscale is given
// (namespace labels, the hdscale.io/policy annotation, the webhook's config),
// refusing first what would take the parser seconds or more (see Check).
// Label values are at most 63 characters, yet ".8E38388880032" is one:
// FuzzValidateNamespace found that a namespace labelled
// hdscale.io/cpu=.8E38388880032 held the webhook for minutes.
func ParseQuantity(s string) (resource.Quantity, error) {
	if why := expensive([]byte(s)); why != "" {
		return resource.Quantity{}, fmt.Errorf("quantity %q %s", abbreviate(s), why)
	}
	return resource.ParseQuantity(s)
}
