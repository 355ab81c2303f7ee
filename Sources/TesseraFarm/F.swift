public struct P2 {}
