package dockerfile

import (
	"strings"
)

type flagKind int

const (
	flagString flagKind = iota
	flagBool
	flagList // may repeat; each occurrence appends
)

// flagSet parses the `--name=value` words the BuildKit parser splits off an
// instruction. It mirrors docker's rules: every flag needs `--`, string
// flags need a value, bool flags take none or true/false, only list flags
// may repeat, and `--` ends the flags.
type flagSet struct {
	kinds  map[string]flagKind
	values map[string][]string
	bools  map[string]bool
}

func newFlagSet() *flagSet {
	return &flagSet{kinds: map[string]flagKind{}, values: map[string][]string{}, bools: map[string]bool{}}
}

func (f *flagSet) str(name string) *flagSet  { f.kinds[name] = flagString; return f }
func (f *flagSet) bool(name string) *flagSet { f.kinds[name] = flagBool; return f }
func (f *flagSet) list(name string) *flagSet { f.kinds[name] = flagList; return f }

func (f *flagSet) parse(words []string) error {
	for _, w := range words {
		if w == "--" {
			return nil
		}
		if !strings.HasPrefix(w, "--") {
			return errorf("arg should start with -- : %s", w)
		}
		name, value, hasValue := strings.Cut(w, "=")
		key := name[2:]
		kind, ok := f.kinds[key]
		if !ok {
			return errorf("unknown flag: %s", name)
		}
		if _, seen := f.values[key]; seen && kind != flagList {
			return errorf("duplicate flag specified: %s", name)
		}
		switch kind {
		case flagBool:
			if hasValue && value == "" {
				return errorf("missing a value on flag: %s", name)
			}
			switch strings.ToLower(value) {
			case "", "true":
				f.bools[key] = true
			case "false":
				f.bools[key] = false
			default:
				return errorf("expecting boolean value for flag %s, not: %s", name, value)
			}
			f.values[key] = []string{strings.ToLower(value)}
		default:
			if !hasValue {
				return errorf("missing a value on flag: %s", name)
			}
			f.values[key] = append(f.values[key], value)
		}
	}
	return nil
}

func (f *flagSet) getString(name string) string {
	v := f.values[name]
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func (f *flagSet) getList(name string) []string { return f.values[name] }

func (f *flagSet) getBool(name string) bool { return f.bools[name] }

func (f *flagSet) used(name string) bool { _, ok := f.values[name]; return ok }
