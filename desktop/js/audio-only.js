// audio-only.html: the agent's own machine, call audio only (allowFramedSoftphone: true).
import { runSplitAudioPage } from './split-audio.js';

runSplitAudioPage('audio-only');
