// Package fielddiff compares two values of lnpaystore's types field by field, for the
// importer's --verify and the drop-in's differential test.
package fielddiff

import (
	"fmt"
	"reflect"
	"time"
)

// Diff compares two values of lnpaystore's types field by field and returns the path
// of each difference ("htlcs[1].route.hops[2].custom_records[65537]: ..."). Empty and
// nil byte strings, slices and maps are equal (the store hands empty ones out as nil);
// times compare as the unix nanoseconds the store keeps.
func Diff(path string, want, got any) []string {
	var out []string
	walk(path, reflect.ValueOf(want), reflect.ValueOf(got), &out)
	return out
}

var timeType = reflect.TypeOf(time.Time{})

func walk(path string, a, b reflect.Value, out *[]string) {
	if a.Type() == timeType {
		ta, tb := a.Interface().(time.Time), b.Interface().(time.Time)
		if nanos(ta) != nanos(tb) {
			*out = append(*out, fmt.Sprintf("%s: %v (lnd) != %v (lnpaystore)", path, ta, tb))
		}
		return
	}
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				*out = append(*out, fmt.Sprintf("%s: set on one side only (lnd %v, lnpaystore %v)", path, !a.IsNil(), !b.IsNil()))
			}
			return
		}
		walk(path, a.Elem(), b.Elem(), out)
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			f := a.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			name := f.Name
			if f.Anonymous {
				walk(path, a.Field(i), b.Field(i), out)
				continue
			}
			walk(path+"."+name, a.Field(i), b.Field(i), out)
		}
	case reflect.Slice:
		if a.Type().Elem().Kind() == reflect.Uint8 {
			if !reflect.DeepEqual(a.Bytes(), b.Bytes()) && (a.Len() != 0 || b.Len() != 0) {
				*out = append(*out, fmt.Sprintf("%s: %x (lnd) != %x (lnpaystore)", path, a.Bytes(), b.Bytes()))
			}
			return
		}
		if a.Len() != b.Len() {
			*out = append(*out, fmt.Sprintf("%s: %d items (lnd) != %d (lnpaystore)", path, a.Len(), b.Len()))
			return
		}
		for i := 0; i < a.Len(); i++ {
			walk(fmt.Sprintf("%s[%d]", path, i), a.Index(i), b.Index(i), out)
		}
	case reflect.Map:
		if a.Len() != b.Len() {
			*out = append(*out, fmt.Sprintf("%s: %d entries (lnd) != %d (lnpaystore)", path, a.Len(), b.Len()))
			return
		}
		for _, k := range a.MapKeys() {
			bv := b.MapIndex(k)
			if !bv.IsValid() {
				*out = append(*out, fmt.Sprintf("%s[%v]: missing in lnpaystore", path, k))
				continue
			}
			walk(fmt.Sprintf("%s[%v]", path, k), a.MapIndex(k), bv, out)
		}
	default:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			*out = append(*out, fmt.Sprintf("%s: %v (lnd) != %v (lnpaystore)", path, a.Interface(), b.Interface()))
		}
	}
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
