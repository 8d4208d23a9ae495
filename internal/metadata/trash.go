package metadata

// The trash bucket (owned by this package) lists resources whose records
// are gone and whose files are to be deleted:
//
//	trash/<resource>   "layer/<chainID>" (its directory) or "blob/<digest>"
//
// A deletion is two transactions: the first removes the records and puts
// the resources in the trash; the second (Store.EmptyTrash of package
// layers), under the lock again, deletes the files of the resources still in
// the trash and the entries. Whoever starts using a resource again in
// between claims it (Claim, or AddResource for a lease) in its own
// transaction, which takes it out of the trash. So a crash at any point
// leaves either records with all their files, or trash entries and
// unreferenced files: never a record naming a deleted file.

const trashBucket = "trash"

// Trash puts resources in the trash.
func Trash(tx *Tx, res ...string) error {
	b, err := WriteBucket(tx, trashBucket)
	if err != nil {
		return err
	}
	for _, r := range res {
		if err := b.Put([]byte(r), nil); err != nil {
			return err
		}
	}
	return nil
}

// Claim takes resources out of the trash (they are in use again).
func Claim(tx *Tx, res ...string) error {
	b := ReadBucket(tx, trashBucket)
	if b == nil {
		return nil
	}
	for _, r := range res {
		if err := b.Delete([]byte(r)); err != nil {
			return err
		}
	}
	return nil
}

// Trashed lists the resources in the trash.
func Trashed(tx *Tx) []string {
	var out []string
	if b := ReadBucket(tx, trashBucket); b != nil {
		_ = b.ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		})
	}
	return out
}
