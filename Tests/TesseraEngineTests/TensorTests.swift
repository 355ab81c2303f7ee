import Testing
import TesseraTensor
@Test func tensorShape() { #expect(Tensor(zeros: [2, 3]).count == 6) }
