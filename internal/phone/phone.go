// Package phone writes phone numbers as people type them in E.164, the form
// the API stores, with libphonenumber's numbering plans (the Go port,
// github.com/nyaruka/phonenumbers). extdir invite reads its CSV through it;
// the web console applies the same rules in the browser (console/web/phone.js,
// from the same metadata), and a test holds the two to the same answers.
package phone

import (
	"errors"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/extdir/extdir"
)

// Normalise writes a number as people write it ((425) 555-0100,
// 0044 20 7946 0958, +44 20 7946 0958) in E.164. A number without a
// country code takes region's (an ISO 3166 code such as US or GB).
//
// A leading 00 is read as the international prefix it is in most of the
// world even where the region dials another one (the US dials 011): a
// number that does not parse in the region that way is tried as +44....
func Normalise(cell, region string) (string, error) {
	if extdir.ValidE164(cell) {
		return cell, nil // already as the API wants it: nothing to guess
	}
	e164, err := parse(cell, region)
	if t := strings.TrimSpace(cell); err != nil && strings.HasPrefix(t, "00") {
		if alt, altErr := parse("+"+t[2:], region); altErr == nil {
			return alt, nil
		}
	}
	return e164, err
}

// KnownRegion reports whether region is a region code of the numbering
// plans (US, GB, DE, ...), in any case.
func KnownRegion(region string) bool {
	return phonenumbers.GetCountryCodeForRegion(strings.ToUpper(region)) != 0
}

// parse is one reading of a number in a region.
func parse(cell, region string) (string, error) {
	n, err := phonenumbers.Parse(cell, strings.ToUpper(region))
	if err != nil {
		if errors.Is(err, phonenumbers.ErrInvalidCountryCode) && region == "" && !strings.HasPrefix(cell, "+") {
			return "", extdir.Errorf(extdir.EInvalid, "Invalid phone number '%s': it has no country code; write it as +<country code><number> or give --default-region (such as US or GB).", cell)
		}
		return "", extdir.Errorf(extdir.EInvalid, "Invalid phone number '%s': %s.", cell, err)
	}
	if n.GetExtension() != "" {
		return "", extdir.Errorf(extdir.EInvalid, "Invalid phone number '%s': it has an extension, which phoneNumber cannot hold.", cell)
	}
	switch phonenumbers.IsPossibleNumberWithReason(n) {
	case phonenumbers.IS_POSSIBLE:
	case phonenumbers.TOO_SHORT, phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
		return "", extdir.Errorf(extdir.EInvalid, "Invalid phone number '%s': it is too short for a number of country code +%d.", cell, n.GetCountryCode())
	case phonenumbers.TOO_LONG:
		return "", extdir.Errorf(extdir.EInvalid, "Invalid phone number '%s': it is too long for a number of country code +%d.", cell, n.GetCountryCode())
	default:
		return "", extdir.Errorf(extdir.EInvalid, "Invalid phone number '%s': it is not a possible number of country code +%d.", cell, n.GetCountryCode())
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}
