// A caption that lies about one kind of fact: the same clip's facts with one of them changed. A DiT that reads
// that kind of word denoises the clip worse under the lie than under the truth; one that ignores it denoises
// both alike (`tessera train eval-dit`, "what each kind of word is worth").

extension CaptionFacts {
    /// The facts with one fact of `kind` changed — the first object's colour (`present`), shape, size, place
    /// (mirrored through the centre) or motion, or the background — or nil when the facts state no such fact.
    /// Framing and events follow from the objects and are not changed on their own.
    public func altered(_ kind: FactKind) -> CaptionFacts? {
        var facts = self
        func next<T: CaseIterable & Equatable>(_ value: T, avoiding taken: [T] = []) -> T {
            let all = Array(T.allCases)
            var index = all.firstIndex(of: value)!
            repeat { index = (index + 1) % all.count } while taken.contains(all[index]) && all[index] != value
            return all[index]
        }
        switch kind {
        case .present:
            guard let colour = objects.first?.colour else { return nil }
            facts.objects[0].colour = next(colour, avoiding: objects.compactMap(\.colour))
        case .shape:
            guard let shape = objects.first?.shape else { return nil }
            facts.objects[0].shape = next(shape)
        case .size:
            guard let size = objects.first?.size else { return nil }
            facts.objects[0].size = next(size)
        case .position:
            guard let region = objects.first?.region else { return nil }
            let cell = region.cell
            facts.objects[0].region = region == .center ? .topLeft : Region(column: 2 - cell.column, row: 2 - cell.row)
        case .motion:
            guard let motion = objects.first?.motion else { return nil }
            facts.objects[0].motion = switch motion {
            case .still: .moving(.right)
            case .moving(let direction): .moving(direction.opposite)
            case .falling: .still
            case .bouncing: .still
            }
        case .background:
            guard let background else { return nil }
            facts.background = Background(next(background.top, avoiding: [background.bottom]))
        case .framing, .event:
            return nil
        }
        return facts
    }
}

extension Direction {
    /// The direction the other way.
    public var opposite: Direction {
        switch self {
        case .left: .right
        case .right: .left
        case .up: .down
        case .down: .up
        case .upLeft: .downRight
        case .upRight: .downLeft
        case .downLeft: .upRight
        case .downRight: .upLeft
        }
    }
}
