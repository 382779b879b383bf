// in-session.html: the AppStream desktop, controls only (allowFramedSoftphone: false, no ringtone,
// never initSoftphoneManager).
import { runSplitAudioPage } from './split-audio.js';

runSplitAudioPage('in-session');
