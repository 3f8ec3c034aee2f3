// STAND-IN for compile checks only (android_demo/jvm/README.md): same public signatures as the
// real class, written from its documentation; every body throws. Never packaged into the app.
package android.widget;

import android.view.View;

public class TextView extends View {
    protected TextView() {}
    public CharSequence getText() { throw new UnsupportedOperationException("stand-in"); }
    public final void setText(CharSequence text) { throw new UnsupportedOperationException("stand-in"); }
    public final void setText(int resid) { throw new UnsupportedOperationException("stand-in"); }
}
