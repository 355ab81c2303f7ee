// The sampler arrives here (issue 3).
