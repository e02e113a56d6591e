/// A part of the model: its own parameters and buffers, and the parts it is built from.
///
/// The model's bookkeeping (checkpoint order, quantizable layers, neurons, BatchNorms, activity
/// counters, product kernels) is one walk over this tree, so a new layer type declares its children
/// and state in its own file and is added to the model in the assembly; nothing else changes.
public protocol Module: AnyObject {
    /// The direct parts, in model order, which is also checkpoint order.
    var children: [any Module] { get }
    /// This part's own parameters and buffers (not its children's), in checkpoint order.
    var ownState: [Parameter] { get }
}

extension Module {
    public var children: [any Module] { [] }
    public var ownState: [Parameter] { [] }

    /// This module and every module below it, parents before children, in model order.
    public var allModules: [any Module] { [self] + children.flatMap(\.allModules) }

    /// The parameters and buffers of the whole subtree, in checkpoint order.
    public var state: [Parameter] { allModules.flatMap(\.ownState) }

    /// The subtree's modules of one kind (a class or a protocol), in model order.
    public func modules<Kind>(of kind: Kind.Type) -> [Kind] { allModules.compactMap { $0 as? Kind } }
}

/// A module that counts what its inputs look like (firing rates, densities) while tracking is on, for
/// the energy model and the kernel choice.
protocol ActivityCounting: Module {
    var tracksActivity: Bool { get set }
    func resetActivity()
}

/// A module whose products pick the dense or the event-driven kernel by measured input density.
protocol ProductLayer: Module {
    var name: String { get }
    var productMode: ProductMode { get set }
    /// The paths taken and densities seen since the last reset of activity.
    var products: ProductRecord { get }
}
