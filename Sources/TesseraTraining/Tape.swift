import TesseraTensor

/// Reverse-mode differentiation over whole-tensor operations.
///
/// A forward pass written against a `Tape` records each operation's output and a closure that maps the
/// gradient of that output to gradients of its inputs. `backward(from:)` walks the records in reverse and
/// accumulates. Operations are coarse (a linear layer, an attention, a norm), so the bookkeeping is small
/// next to the arithmetic, and every operation's backward sits beside its forward in `Ops/`, checked by
/// finite differences in the tests. Values are kept for the whole pass: training grids are small.
public final class Tape {
    /// A value on the tape.
    public struct Variable: Hashable, Sendable {
        public let index: Int
    }

    /// Maps the gradient of an operation's output to gradients of its inputs (nil where not needed).
    typealias Backward = (Tensor) -> [Tensor?]

    private(set) var values: [Tensor] = []
    private var gradients: [Tensor?] = []
    private var inputs: [[Variable]] = []
    private var backwards: [Backward?] = []
    /// Whether a gradient has to flow into the value (a parameter, or computed from one).
    private var needsGradient: [Bool] = []

    public init() {}

    /// A value that receives no gradient (inputs, noise, tables).
    public func constant(_ value: Tensor) -> Variable {
        append(value, inputs: [], backward: nil, needsGradient: false)
    }

    /// A value whose gradient is wanted (a weight).
    public func parameter(_ value: Tensor) -> Variable {
        append(value, inputs: [], backward: nil, needsGradient: true)
    }

    /// A network's weights as parameters, by name, after checking their names and shapes.
    public func parameters(_ weights: [String: Tensor], expected: [String: [Int]], path: String) throws -> [String: Variable] {
        try SafetensorsFile.check(actual: weights.mapValues(\.shape), expected: expected, path: path)
        var variables: [String: Variable] = [:]
        for (name, tensor) in weights.sorted(by: { $0.key < $1.key }) { variables[name] = parameter(tensor) }
        return variables
    }

    public func value(_ variable: Variable) -> Tensor { values[variable.index] }

    /// The accumulated gradient after `backward`, or nil when none reached the value.
    public func gradient(_ variable: Variable) -> Tensor? { gradients[variable.index] }

    /// Records an operation. The backward closure is kept only when an input needs a gradient.
    func record(_ value: Tensor, _ operands: [Variable], backward: @escaping Backward) -> Variable {
        let needs = operands.contains { needsGradient[$0.index] }
        return append(value, inputs: operands, backward: needs ? backward : nil, needsGradient: needs)
    }

    /// Whether `variable` needs a gradient: ops skip work for inputs that do not.
    func needs(_ variable: Variable) -> Bool { needsGradient[variable.index] }

    private func append(_ value: Tensor, inputs operands: [Variable], backward: Backward?, needsGradient needs: Bool) -> Variable {
        values.append(value)
        gradients.append(nil)
        inputs.append(operands)
        backwards.append(backward)
        needsGradient.append(needs)
        return Variable(index: values.count - 1)
    }

    /// Back-propagates from a scalar (one-element) value, seeding its gradient with 1.
    public func backward(from loss: Variable) {
        precondition(values[loss.index].count == 1, "backward: the loss must be a scalar, not \(values[loss.index].shape)")
        gradients[loss.index] = Tensor(repeating: 1, shape: values[loss.index].shape)
        for index in stride(from: loss.index, through: 0, by: -1) {
            guard let backward = backwards[index], let gradient = gradients[index] else { continue }
            let operandGradients = backward(gradient)
            precondition(operandGradients.count == inputs[index].count, "backward of value \(index) returned \(operandGradients.count) gradients")
            for (operand, g) in zip(inputs[index], operandGradients) {
                guard let g, needsGradient[operand.index] else { continue }
                precondition(g.count == values[operand.index].count, "gradient \(g.shape) for value \(values[operand.index].shape)")
                accumulate(g, into: operand.index)
            }
            // Intermediate gradients are not needed again; parameters keep theirs.
            if !inputs[index].isEmpty { gradients[index] = nil }
        }
    }

    private func accumulate(_ g: Tensor, into index: Int) {
        guard var existing = gradients[index] else {
            gradients[index] = g.shape == values[index].shape ? g : g.reshaped(values[index].shape)
            return
        }
        gradients[index] = nil  // unique, so the addition below is in place
        existing.storage.withUnsafeMutableBufferPointer { e in
            g.storage.withUnsafeBufferPointer { a in
                for i in 0..<e.count { e[i] += a[i] }
            }
        }
        gradients[index] = existing
    }
}
