// Wire
//
// The data every SpikeQuant process exchanges (evaluation requests, progress, results) as versioned
// Codable bodies, and 18/MDP (Majordomo 0.2) framing. No sockets: Transport moves the frames.
