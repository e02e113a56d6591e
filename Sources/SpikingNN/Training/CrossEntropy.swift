import Foundation
public import Tensor

/// Softmax cross-entropy with optional label smoothing, averaged over the batch.
///
/// With K classes and smoothing ε the target is q = (1 − ε)·onehot(y) + ε/K; the loss is
/// −Σ_k q_k·log p_k and its gradient with respect to the logits is (p − q)/B.
public enum CrossEntropy {
    /// - Parameters:
    ///   - logits: `[B, K]`.
    ///   - labels: B labels in `0..<K`.
    /// - Returns: mean loss, dL/dlogits, and the number of samples whose arg-max equals the label.
    public static func evaluate(logits: Tensor, labels: [Int], labelSmoothing: Float = 0) -> (loss: Double, gradient: Tensor, correct: Int) {
        let (batch, classes) = (logits.shape[0], logits.shape[1])
        precondition(labels.count == batch, "cross-entropy: \(labels.count) labels for \(batch) rows")
        var gradient = Tensor(uninitializedShape: [batch, classes])
        var loss = 0.0
        var correct = 0
        let values = logits.scalars
        gradient.withUnsafeMutableBufferPointer { g in
            for b in 0..<batch {
                let label = labels[b]
                precondition((0..<classes).contains(label), "cross-entropy: label \(label) outside 0..<\(classes)")
                let row = Array(values[(b * classes)..<((b + 1) * classes)])
                let maximum = row.max()!
                var denominator = 0.0
                for v in row { denominator += Foundation.exp(Double(v - maximum)) }
                let logDenominator = Foundation.log(denominator)
                if row.firstIndex(of: maximum) == label { correct += 1 }
                for k in 0..<classes {
                    let logP = Double(row[k] - maximum) - logDenominator
                    let target = Double(labelSmoothing) / Double(classes) + (k == label ? Double(1 - labelSmoothing) : 0)
                    loss -= target * logP
                    g[b * classes + k] = Float((Foundation.exp(logP) - target) / Double(batch))
                }
            }
        }
        return (loss / Double(batch), gradient, correct)
    }
}
