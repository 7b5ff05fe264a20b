// Phone numbers as people write them, in E.164: the reading of extdir
// invite (internal/phone), which parses with libphonenumber's Go port and
// checks that the number is possible for its country. This is that
// library's parse, step for step, on the same numbering plans (schema.js is
// generated from them), for what a spreadsheet holds: RFC 3966 URIs
// (tel:...;phone-context=) are not read. A test in console/ runs a corpus
// of numbers through both and wants the same answers.

import { phone as meta } from "./schema.js";

const re = (name, anchored = "") => new RegExp(anchored + meta.patterns[name][0], meta.patterns[name][1]);
const validStart = re("validStart");
const secondNumber = re("secondNumber");
const validPhone = re("validPhone");
const extension = re("extension");
const alphaPhone = re("alpha");
const plusChars = re("plus");
const leadingPlus = re("plus", "^");

const callingCodes = new Set(Object.keys(meta.mainRegion).map(Number));
const cache = new Map();
function pattern(src, prefix, suffix) {
  const key = prefix + src + suffix;
  let r = cache.get(key);
  if (!r) {
    r = new RegExp(prefix + src + suffix, "u");
    cache.set(key, r);
  }
  return r;
}

// plan is a region's (or a non-geographic calling code's) numbering plan.
function plan(m) {
  if (!m) return null;
  const [cc, idd, npp, transform, nsnPattern, lengths, localLengths] = m;
  return { cc, idd, npp, transform, nsnPattern, lengths, localLengths };
}
const regionPlan = (region) => plan(meta.regions[region]);
function planOf(cc, region) {
  return region === "001" ? plan(meta.nonGeographic[String(cc)]) : regionPlan(region);
}

// The library's errors, with its words: extdir invite shows them.
const errNotANumber = "the phone number supplied is not a number";
const errInvalidCountryCode = "invalid country code";
const errTooShortNSN = "the string supplied is too short to be a phone number";
const errNumTooLong = "the string supplied is too long to be a phone number";
const errTooShortAfterIDD = "phone number had an IDD, but after this was not long enough to be a viable phone number";

class ParseError extends Error {}

const arabicIndic = "٠١٢٣٤٥٦٧٨٩";
const easternArabicIndic = "۰۱۲۳۴۵۶۷۸۹";
// digitsOnly keeps the decimal digits, Arabic-Indic ones as ASCII, as the
// library's NormalizeDigitsOnly does.
function digitsOnly(s) {
  let out = "";
  for (const c of s) {
    if (!/\p{Nd}/u.test(c)) continue;
    const a = arabicIndic.indexOf(c), e = easternArabicIndic.indexOf(c);
    out += a >= 0 ? String(a) : e >= 0 ? String(e) : c;
  }
  return out;
}

// normalize is the library's: a number with three letters or more is read
// on a phone keypad (1-800-FLOWERS), else only its digits are kept.
function normalize(s) {
  if (alphaPhone.test(s)) {
    let out = "";
    for (const c of s) {
      const d = meta.alpha[c.toUpperCase()];
      if (d !== undefined) out += d;
    }
    return out;
  }
  return digitsOnly(s);
}

function extractPossibleNumber(s) {
  const m = validStart.exec(s);
  if (!m) return "";
  let n = s.slice(m.index);
  // The library's pattern for unwanted trailing characters is written with
  // class intersection, which Go's regexp reads as plain characters: it
  // never matches a number, so nothing is stripped here either.
  const second = secondNumber.exec(n);
  if (second) n = n.slice(0, second.index);
  return n;
}

// bytes is a string's length as Go's len counts it, in UTF-8 bytes.
const encoder = new TextEncoder();
function bytes(s) {
  return encoder.encode(s).length;
}

function viable(s) {
  if (bytes(s) < meta.minNSN) return false;
  return validPhone.test(s);
}

// testLength is the library's check of a national significant number's
// length against a plan.
function testLength(nsn, p) {
  const lengths = p.lengths;
  if (!lengths.length || lengths[0] === -1) return "INVALID_LENGTH";
  const n = nsn.length;
  if (p.localLengths.includes(n)) return "IS_POSSIBLE_LOCAL_ONLY";
  if (lengths[0] === n) return "IS_POSSIBLE";
  if (lengths[0] > n) return "TOO_SHORT";
  if (lengths[lengths.length - 1] < n) return "TOO_LONG";
  return lengths.slice(1).includes(n) ? "IS_POSSIBLE" : "INVALID_LENGTH";
}

function stripNationalPrefix(number, p) {
  if (!number || !p.npp) return number;
  const prefix = pattern(p.npp, "^(?:", ")");
  const m = prefix.exec(number);
  if (!m) return number;
  const rule = pattern(p.nsnPattern, "^(?:", ")$");
  const viableOriginal = rule.test(number);
  const groups = m.length - 1;
  if (!p.transform || m[groups] === undefined) {
    if (viableOriginal && !rule.test(number.slice(m[0].length))) return number;
    return number.slice(m[0].length);
  }
  const transformed = number.replace(prefix, p.transform);
  if (viableOriginal && !rule.test(transformed)) return number;
  return transformed;
}

function extractCountryCode(full) {
  if (!full || full[0] === "0") return null;
  for (let i = 1; i <= meta.maxCountryCode && i <= full.length; i++) {
    const cc = Number(full.slice(0, i));
    if (callingCodes.has(cc)) return { cc, national: full.slice(i) };
  }
  return null;
}

// extractCountry is the library's maybeExtractCountryCode: the calling
// code after a +, after the region's international prefix, or at the start
// of a number of the region that is too long (or invalid) without it.
function extractCountry(number, p) {
  if (!number) return { cc: 0, national: "" };
  let full;
  let international = false;
  const plus = leadingPlus.exec(number);
  if (plus) {
    full = normalize(number.slice(plus[0].length));
    international = true;
  } else {
    full = normalize(number);
    // Without a region the library's prefix is one that never matches.
    const idd = p ? pattern(p.idd, "^(?:", ")").exec(full) : null;
    // A prefix followed by 0 is no international prefix: calling codes
    // do not begin with 0.
    if (idd && full[idd[0].length] !== "0") {
      full = full.slice(idd[0].length);
      international = true;
    }
  }
  if (international) {
    if (bytes(full) <= meta.minNSN) throw new ParseError(errTooShortAfterIDD);
    const found = extractCountryCode(full);
    if (found) return found;
    throw new ParseError(errInvalidCountryCode);
  }
  if (p) {
    const ccs = String(p.cc);
    if (full.startsWith(ccs)) {
      const potential = stripNationalPrefix(full.slice(ccs.length), p);
      const rule = pattern(p.nsnPattern, "^(?:", ")$");
      if ((!rule.test(full) && rule.test(potential)) || testLength(full, p) === "TOO_LONG") {
        return { cc: p.cc, national: potential };
      }
    }
  }
  return { cc: 0, national: "" };
}

// parse is the library's Parse: the country calling code and the national
// significant number, or a ParseError.
function parse(input, region) {
  if (input.length === 0) throw new ParseError(errNotANumber);
  if (bytes(input) > meta.maxInput) throw new ParseError(errNumTooLong);
  let number = extractPossibleNumber(input);
  const isdn = number.indexOf(";isub=");
  if (isdn > 0) number = number.slice(0, isdn);
  if (!viable(number)) throw new ParseError(errNotANumber);
  if (!meta.regions[region] && !plusChars.test(number)) throw new ParseError(errInvalidCountryCode);
  let ext = "";
  const e = extension.exec(number);
  if (e && viable(number.slice(0, e.index))) {
    ext = e.slice(1).find((g) => g) || "";
    if (ext) number = number.slice(0, e.index);
  }
  let p = regionPlan(region);
  let found;
  try {
    found = extractCountry(number, p);
  } catch (err) {
    const plus = plusChars.exec(number);
    if (err.message !== errInvalidCountryCode || !plus) throw err;
    found = extractCountry(number.slice(plus.index + plus[0].length), p);
    if (!found.cc) throw new ParseError(errInvalidCountryCode);
  }
  let { cc, national } = found;
  if (cc) {
    const main = meta.mainRegion[String(cc)];
    if (main !== region) p = planOf(cc, main);
  } else {
    national = normalize(number);
    if (p) cc = p.cc;
  }
  if (bytes(national) < meta.minNSN) throw new ParseError(errTooShortNSN);
  if (p) {
    const potential = stripNationalPrefix(national, p);
    const r = testLength(potential, p);
    if (r !== "TOO_SHORT" && r !== "IS_POSSIBLE_LOCAL_ONLY" && r !== "INVALID_LENGTH") national = potential;
  }
  if (bytes(national) < meta.minNSN) throw new ParseError(errTooShortNSN);
  if (bytes(national) > meta.maxNSN) throw new ParseError(errNumTooLong);
  return { cc, national, ext };
}

// possible is the library's IsPossibleNumberWithReason.
function possible(cc, nsn) {
  if (!callingCodes.has(cc)) return "INVALID_COUNTRY_CODE";
  const p = planOf(cc, meta.mainRegion[String(cc)]);
  if (!p.nsnPattern) {
    if (nsn.length < meta.minNSN) return "TOO_SHORT";
    if (nsn.length > meta.maxNSN) return "TOO_LONG";
    return "IS_POSSIBLE";
  }
  return testLength(nsn, p);
}

// validE164 is the API's format rule.
export function validE164(s) {
  return /^\+[1-9][0-9]{1,14}$/.test(s);
}

// regionCodes are the regions a number without a country code may be
// read in.
export const regionCodes = Object.keys(meta.regions).sort();

function readIn(cell, region) {
  let n;
  try {
    n = parse(cell, region.toUpperCase());
  } catch (err) {
    if (!(err instanceof ParseError)) throw err;
    if (err.message === errInvalidCountryCode && region === "" && !cell.startsWith("+")) {
      return { error: `Invalid phone number '${cell}': it has no country code; write it as +<country code><number> or give --default-region (such as US or GB).` };
    }
    return { error: `Invalid phone number '${cell}': ${err.message}.` };
  }
  if (n.ext) return { error: `Invalid phone number '${cell}': it has an extension, which phoneNumber cannot hold.` };
  switch (possible(n.cc, n.national)) {
    case "IS_POSSIBLE": break;
    case "TOO_SHORT": case "IS_POSSIBLE_LOCAL_ONLY":
      return { error: `Invalid phone number '${cell}': it is too short for a number of country code +${n.cc}.` };
    case "TOO_LONG":
      return { error: `Invalid phone number '${cell}': it is too long for a number of country code +${n.cc}.` };
    default:
      return { error: `Invalid phone number '${cell}': it is not a possible number of country code +${n.cc}.` };
  }
  return { e164: `+${n.cc}${n.national}` };
}

// normalise is internal/phone.Normalise: {e164} or {error}, the error
// worded as extdir invite words it. region is an ISO 3166 code or "".
export function normalise(cell, region = "") {
  if (validE164(cell)) return { e164: cell };
  const first = readIn(cell, region);
  const t = cell.trim();
  if (first.error && t.startsWith("00")) {
    const alt = readIn("+" + t.slice(2), region);
    if (!alt.error) return alt;
  }
  return first;
}
