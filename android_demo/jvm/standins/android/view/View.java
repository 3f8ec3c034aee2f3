// STAND-IN for compile checks only (android_demo/jvm/README.md): same public signatures as the
// real class, written from its documentation; every body throws. Never packaged into the app.
package android.view;

public class View {
    public interface OnClickListener {
        void onClick(View v);
    }

    protected View() {}
    public void setOnClickListener(OnClickListener l) { throw new UnsupportedOperationException("stand-in"); }
    public boolean isEnabled() { throw new UnsupportedOperationException("stand-in"); }
    public void setEnabled(boolean enabled) { throw new UnsupportedOperationException("stand-in"); }
}
