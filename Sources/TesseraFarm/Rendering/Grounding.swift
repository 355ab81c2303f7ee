import TesseraModels
import TesseraWorld

extension Caption {
    /// The caption with the objects of `scene` grounded on its first latent frame, as `facts` describe them
    /// (the scene's own facts when nil): what a DiT with `DiTConfig.grounding` takes (docs/ENGINE.md,
    /// "Grounded objects").
    public func grounded(in scene: SceneSpec, facts: CaptionFacts? = nil) -> Caption {
        var copy = self
        copy.grounding = ObjectGrounding.objects(scene, facts: facts).map { GroundedObject(features: $0.features, box: $0.box) }
        return copy
    }
}
