import TesseraTensor

/// Adds each weight's gradient on `tape` into `gradients`.
func accumulate(_ gradients: inout [String: Tensor], tape: Tape, weights: [String: Tape.Variable]) {
    for (name, variable) in weights {
        guard let g = tape.gradient(variable) else { continue }
        if var existing = gradients[name] {
            gradients[name] = nil
            existing.storage.withUnsafeMutableBufferPointer { e in
                g.storage.withUnsafeBufferPointer { a in for i in 0..<e.count { e[i] += a[i] } }
            }
            gradients[name] = existing
        } else {
            gradients[name] = g
        }
    }
}

/// Multiplies every gradient by `factor` (averaging over a batch).
func scaleGradients(_ gradients: inout [String: Tensor], by factor: Float) {
    guard factor != 1 else { return }
    for name in Array(gradients.keys) {
        var g = gradients.removeValue(forKey: name)!
        g.storage.withUnsafeMutableBufferPointer { e in for i in 0..<e.count { e[i] *= factor } }
        gradients[name] = g
    }
}
