// The DiT arrives here (issue 3).
