package cfemu

import (
	"encoding/json"
	"time"
)

// batchResult is what a batch made, by action.
type batchResult struct {
	deletes, patches, puts, posts []Record
}

func nonNil(rs []Record) []Record {
	if rs == nil {
		return []Record{}
	}
	return rs
}

var missing = &apiError{81044, "Record does not exist."}

// applyBatch runs a batch against z's records under the server lock, all
// or nothing, in Cloudflare's order: deletes, then patches (only the
// fields sent change), then puts (the record replaced), then posts.
func applyBatch(z *zone, deletes []struct {
	ID string `json:"id"`
}, patches, puts []json.RawMessage, posts []input) (res batchResult, status int, e *apiError) {
	work := make(map[string]Record, len(z.records))
	for k, v := range z.records {
		work[k] = v
	}
	for _, d := range deletes {
		r, ok := work[d.ID]
		if !ok {
			return batchResult{}, 404, missing
		}
		delete(work, d.ID)
		res.deletes = append(res.deletes, r)
	}
	now := time.Now().UTC()
	change := func(raw json.RawMessage, patch bool) (Record, int, *apiError) {
		var id struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &id); err != nil {
			return Record{}, 400, &apiError{9207, "Request body is invalid: " + err.Error()}
		}
		old, ok := work[id.ID]
		if !ok {
			return Record{}, 404, missing
		}
		var in input
		if patch { // start from the record: only the fields sent change
			ttl, proxied := float64(old.TTL), old.Proxied
			in = input{Type: old.Type, Name: old.Name, Content: old.Content, TTL: &ttl, Proxied: &proxied, Comment: old.Comment, Tags: old.Tags}
		}
		if err := json.Unmarshal(raw, &in); err != nil {
			return Record{}, 400, &apiError{9207, "Request body is invalid: " + err.Error()}
		}
		r, e := validate(z, in)
		if e != nil {
			return Record{}, 400, e
		}
		delete(work, old.ID)
		if e := conflict(work, r); e != nil {
			return Record{}, 400, e
		}
		r.ID, r.CreatedOn, r.ModifiedOn = old.ID, old.CreatedOn, now
		work[r.ID] = r
		return r, 200, nil
	}
	for _, raw := range patches {
		r, status, e := change(raw, true)
		if e != nil {
			return batchResult{}, status, e
		}
		res.patches = append(res.patches, r)
	}
	for _, raw := range puts {
		r, status, e := change(raw, false)
		if e != nil {
			return batchResult{}, status, e
		}
		res.puts = append(res.puts, r)
	}
	for _, in := range posts {
		r, e := validate(z, in)
		if e != nil {
			return batchResult{}, 400, e
		}
		if e := conflict(work, r); e != nil {
			return batchResult{}, 400, e
		}
		r.ID, r.CreatedOn, r.ModifiedOn = newID(), now, now
		work[r.ID] = r
		res.posts = append(res.posts, r)
	}
	for _, r := range res.deletes {
		z.remove(r.ID, now)
	}
	for _, r := range append(append(res.patches, res.puts...), res.posts...) {
		z.shown[r.ID] = now
	}
	z.records = work
	return res, 200, nil
}
